// Command kubedriver talks to a kube-apiserver with client-go for
// auditlane's end-to-end tests. It lives in the kube-apiserver module so
// that client-go and its dependencies stay out of auditlane's own go.mod.
//
//	kubedriver traffic -server URL -ca FILE -token T -user-token T -out FILE
//	    drives the audit scenario (namespaces, Secrets, ConfigMaps,
//	    privileged and hostNetwork pods, exec and attach attempts, RBAC
//	    bindings to cluster-admin, TokenRequests, impersonation, anonymous,
//	    unauthenticated and forbidden requests, watches, Table lists,
//	    server-side apply) and writes what it did as JSON: the namespace,
//	    every Secret value and token it sent or received, and counts.
//
//	kubedriver apply -server URL -ca FILE -token T [-dry-run] [-namespace NS] FILE...
//	    creates every object of the YAML files: CustomResourceDefinitions
//	    for real (waiting until they are established), everything else with
//	    server-side dry-run (-dry-run) and strict field validation, so an
//	    unknown or duplicate field fails. Exit status 1 names each object
//	    the apiserver refused and why.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/remotecommand"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kubedriver traffic|apply [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "traffic":
		err = traffic(os.Args[2:])
	case "apply":
		err = apply(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubedriver:", err)
		os.Exit(1)
	}
}

// conn holds the flags every command takes.
type conn struct {
	server, ca, token string
}

func (c *conn) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", "", "apiserver URL")
	fs.StringVar(&c.ca, "ca", "", "CA file of the apiserver's serving certificate")
	fs.StringVar(&c.token, "token", "", "bearer token of an administrator")
}

// config returns a rest.Config for token ("" is anonymous).
func (c *conn) config(token string) *rest.Config {
	return &rest.Config{
		Host:            c.server,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: c.ca},
		UserAgent:       "auditlane-kubedriver",
		QPS:             200,
		Burst:           400,
		Timeout:         30 * time.Second,
	}
}

// Report is what traffic writes: what the test needs to know to check the
// audit trail.
type Report struct {
	Namespace string `json:"namespace"`
	// SecretValues are the plain values of every Secret key written and
	// every token received; none may reach a sink.
	SecretValues []string `json:"secretValues"`
	// Requests counts the requests sent, by kind.
	Requests map[string]int `json:"requests"`
	// Expected lists the outcomes the scenario produced on purpose, by
	// name (for example "exec" → the status code the apiserver answered).
	Expected map[string]int `json:"expected"`
}

func traffic(args []string) error {
	fs := flag.NewFlagSet("traffic", flag.ExitOnError)
	var c conn
	c.flags(fs)
	userToken := fs.String("user-token", "", "bearer token of a user without any RBAC permission")
	ns := fs.String("namespace", "audit-e2e", "namespace to create and use")
	configMaps := fs.Int("configmaps", 150, "ConfigMaps to create and update (bulk, to make the audit log rotate)")
	configMapSize := fs.Int("configmap-size", 4096, "bytes of data in each bulk ConfigMap")
	pace := fs.Duration("pace", 0, "pause after each bulk ConfigMap (paces how fast the audit log rotates)")
	out := fs.String("out", "", "write the report here (default stdout)")
	_ = fs.Parse(args)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d := &driver{ctx: ctx, conn: c, ns: *ns, rep: Report{Namespace: *ns, Requests: map[string]int{}, Expected: map[string]int{}}}
	admin, err := kubernetes.NewForConfig(c.config(c.token))
	if err != nil {
		return err
	}
	d.admin = admin
	d.pace = *pace
	if err := d.run(*userToken, *configMaps, *configMapSize); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(d.rep, "", "  ")
	if *out == "" {
		_, err = os.Stdout.Write(append(b, '\n'))
		return err
	}
	return os.WriteFile(*out, b, 0o600)
}

type driver struct {
	ctx   context.Context
	conn  conn
	ns    string
	admin *kubernetes.Clientset
	rep   Report
	pace  time.Duration
}

func randomValue(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// must fails on an unexpected error; what counts is that the request was
// made and audited, but the scenario relies on these succeeding.
func (d *driver) must(what string, err error) error {
	d.rep.Requests[what]++
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// status records the HTTP status of an attempt that may fail on purpose.
func (d *driver) status(what string, err error) {
	d.rep.Requests[what]++
	code := 200
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		code = int(st.Status().Code)
	} else if err != nil {
		code = -1
	}
	d.rep.Expected[what] = code
}

func (d *driver) run(userToken string, configMaps, configMapSize int) error {
	ctx, ns := d.ctx, d.ns
	core, rbac := d.admin.CoreV1(), d.admin.RbacV1()
	if err := d.must("create namespace", errIgnoreExists(core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))); err != nil {
		return err
	}
	// Without kube-controller-manager nobody creates the default service
	// account, which pod admission needs.
	if err := d.must("create serviceaccount", errIgnoreExists(core.ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}))); err != nil {
		return err
	}

	// Secrets: created with data and stringData, read, listed (plain and
	// as a Table with the objects), patched, applied server-side.
	v1, v2, v3, v4, v5 := randomValue("pw-"), randomValue("key-"), randomValue("patched-"), randomValue("applied-"), randomValue("json-patched-")
	d.rep.SecretValues = append(d.rep.SecretValues, v1, v2, v3, v4, v5)
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-credentials"},
		Data: map[string][]byte{"password": []byte(v1)}, StringData: map[string]string{"api-key": v2}}
	if err := d.must("create secret", errOf(core.Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}))); err != nil {
		return err
	}
	if err := d.must("get secret", errOf(core.Secrets(ns).Get(ctx, "db-credentials", metav1.GetOptions{}))); err != nil {
		return err
	}
	if err := d.must("list secrets", errOf(core.Secrets(ns).List(ctx, metav1.ListOptions{}))); err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"stringData":{"password":%q}}`, v3)
	if err := d.must("patch secret", errOf(core.Secrets(ns).Patch(ctx, "db-credentials", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}))); err != nil {
		return err
	}
	jp := fmt.Sprintf(`[{"op":"add","path":"/stringData","value":{"token":%q}}]`, v5)
	if err := d.must("json-patch secret", errOf(core.Secrets(ns).Patch(ctx, "db-credentials", types.JSONPatchType, []byte(jp), metav1.PatchOptions{}))); err != nil {
		return err
	}
	apply := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied\nstringData:\n  password: %s\n", v4)
	force := true
	if err := d.must("apply secret", errOf(core.Secrets(ns).Patch(ctx, "applied", types.ApplyPatchType, []byte(apply), metav1.PatchOptions{FieldManager: "kubectl", Force: &force}))); err != nil {
		return err
	}
	if err := d.must("table secrets", d.table("/api/v1/namespaces/"+ns+"/secrets?includeObject=Object", d.conn.token)); err != nil {
		return err
	}

	// ConfigMaps: one with credential-like keys, then a bulk set large
	// enough to rotate the audit log, each updated once; a Table list.
	cred := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-config"}, Data: map[string]string{"aws_secret_access_key": "not-a-secret-config-value"}}
	if err := d.must("create configmap", errOf(core.ConfigMaps(ns).Create(ctx, cred, metav1.CreateOptions{}))); err != nil {
		return err
	}
	filler := strings.Repeat("x", configMapSize)
	for i := range configMaps {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bulk-%04d", i)}, Data: map[string]string{"payload": filler}}
		got, err := core.ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		if err := d.must("create configmap", err); err != nil {
			return err
		}
		got.Data["updated"] = "yes"
		if err := d.must("update configmap", errOf(core.ConfigMaps(ns).Update(ctx, got, metav1.UpdateOptions{}))); err != nil {
			return err
		}
		time.Sleep(d.pace)
	}
	if err := d.must("table configmaps", d.table("/api/v1/namespaces/"+ns+"/configmaps", d.conn.token)); err != nil {
		return err
	}
	// A watch that the server ends after a second (stages ResponseStarted
	// and ResponseComplete).
	timeout := int64(1)
	w, err := core.ConfigMaps(ns).Watch(ctx, metav1.ListOptions{TimeoutSeconds: &timeout})
	if err := d.must("watch configmaps", err); err != nil {
		return err
	}
	for range w.ResultChan() {
	}

	// Pods: host network, privileged. No kubelet runs, so they stay
	// pending; exec and attach are refused by the apiserver, but audited.
	hostNet := pod("host-net", func(p *corev1.Pod) { p.Spec.HostNetwork = true })
	priv := pod("privileged", func(p *corev1.Pod) {
		t := true
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &t}
	})
	for _, p := range []*corev1.Pod{hostNet, priv} {
		if err := d.must("create pod", errOf(core.Pods(ns).Create(ctx, p, metav1.CreateOptions{}))); err != nil {
			return err
		}
	}
	d.status("exec", d.stream("exec", "privileged", true))
	d.status("attach", d.stream("attach", "host-net", false))
	if err := d.must("table pods", d.table("/api/v1/namespaces/"+ns+"/pods", d.conn.token)); err != nil {
		return err
	}

	// RBAC: a ClusterRoleBinding and a RoleBinding to cluster-admin.
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ns + "-mallory-admin"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "mallory"}}}
	if err := d.must("create clusterrolebinding", errIgnoreExists(rbac.ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}))); err != nil {
		return err
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bob-admin"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "bob"}}}
	if err := d.must("create rolebinding", errOf(rbac.RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}))); err != nil {
		return err
	}

	// TokenRequest: the token comes back in the response body.
	exp := int64(600)
	tr, err := core.ServiceAccounts(ns).CreateToken(ctx, "default", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err := d.must("token request", err); err != nil {
		return err
	}
	d.rep.SecretValues = append(d.rep.SecretValues, tr.Status.Token)

	// Impersonation: the administrator acts as bob (allowed through the
	// RoleBinding above); the unprivileged user tries and is forbidden.
	asBob := d.conn.config(d.conn.token)
	asBob.Impersonate = rest.ImpersonationConfig{UserName: "bob", Groups: []string{"developers"}}
	if cs, err := kubernetes.NewForConfig(asBob); err == nil {
		d.status("impersonated list pods", errOf(cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})))
	}
	userCfg := d.conn.config(userToken)
	user, err := kubernetes.NewForConfig(userCfg)
	if err != nil {
		return err
	}
	d.status("forbidden list secrets", errOf(user.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})))
	d.status("forbidden get secret", errOf(user.CoreV1().Secrets(ns).Get(ctx, "db-credentials", metav1.GetOptions{})))
	userCfg.Impersonate = rest.ImpersonationConfig{UserName: "system:admin"}
	if cs, err := kubernetes.NewForConfig(userCfg); err == nil {
		d.status("forbidden impersonation", errOf(cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})))
	}

	// Anonymous: allowed for /version and /healthz (system:public-info-viewer),
	// forbidden for Secrets; a wrong token is unauthenticated (401).
	anon, err := kubernetes.NewForConfig(d.conn.config(""))
	if err != nil {
		return err
	}
	d.status("anonymous version", errOf(anon.Discovery().ServerVersion()))
	d.status("anonymous healthz", anon.Discovery().RESTClient().Get().AbsPath("/healthz").Do(ctx).Error())
	d.status("anonymous list secrets", errOf(anon.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})))
	bad, err := kubernetes.NewForConfig(d.conn.config("not-a-valid-token"))
	if err != nil {
		return err
	}
	d.status("unauthenticated list pods", errOf(bad.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})))

	// Clean up what can be deleted without controllers.
	if err := d.must("delete secret", core.Secrets(ns).Delete(ctx, "applied", metav1.DeleteOptions{})); err != nil {
		return err
	}
	return d.must("delete clusterrolebinding", rbac.ClusterRoleBindings().Delete(ctx, crb.Name, metav1.DeleteOptions{}))
}

func pod(name string, edit func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10"}}}}
	edit(p)
	return p
}

// stream attempts exec or attach on a pod as kubectl does (WebSocket with
// SPDY fallback).
func (d *driver) stream(sub, name string, command bool) error {
	req := d.admin.CoreV1().RESTClient().Post().Resource("pods").Namespace(d.ns).Name(name).SubResource(sub).
		Param("container", "main").Param("stdout", "true").Param("stderr", "true")
	if command {
		req = req.Param("command", "id")
	}
	cfg := d.conn.config(d.conn.token)
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	if err != nil {
		return err
	}
	sp, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	if err != nil {
		return err
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, sp, func(err error) bool { return true })
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(d.ctx, 10*time.Second)
	defer cancel()
	return ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
}

// table lists path as a meta.k8s.io Table, as kubectl get does.
func (d *driver) table(path, token string) error {
	cfg := d.conn.config(token)
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(d.ctx, http.MethodGet, d.conn.server+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	resp, err := (&http.Client{Transport: rt, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"kind":"Table"`)) {
		return fmt.Errorf("GET %s as Table: %s: %.200s", path, resp.Status, body)
	}
	return nil
}

func errOf[T any](_ T, err error) error { return err }

func errIgnoreExists[T any](_ T, err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func apply(args []string) error {
	fs := flag.NewFlagSet("apply", flag.ExitOnError)
	var c conn
	c.flags(fs)
	dryRun := fs.Bool("dry-run", false, "create with server-side dry-run (CRDs and namespaces are created for real)")
	namespace := fs.String("namespace", "default", "namespace of namespaced objects that name none; created when missing")
	_ = fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := c.config(c.token)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	cached := memory.NewMemCacheClient(disc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cached)

	var objs []*unstructured.Unstructured
	for _, file := range fs.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return fmt.Errorf("%s: %w", file, err)
			}
			if len(m) == 0 {
				continue
			}
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	// Namespaces and CRDs first, for real: the rest depends on them.
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": *namespace}}}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", *namespace, err)
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	var failed []string
	created, dry := 0, 0
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if _, err := dyn.Resource(crdGVR).Create(ctx, o, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil && !apierrors.IsAlreadyExists(err) {
			failed = append(failed, fmt.Sprintf("CustomResourceDefinition %s: %v", o.GetName(), err))
			continue
		}
		if err := waitEstablished(ctx, dyn, crdGVR, o.GetName()); err != nil {
			failed = append(failed, err.Error())
			continue
		}
		created++
	}
	if created > 0 {
		cached.Invalidate()
		mapper.Reset()
	}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			continue
		}
		id := fmt.Sprintf("%s %s", o.GetKind(), o.GetName())
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if o.GetNamespace() == "" {
				o.SetNamespace(*namespace)
			}
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		opts := metav1.CreateOptions{FieldValidation: "Strict"}
		if *dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		if _, err := ri.Create(ctx, o, opts); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		dry++
	}
	fmt.Printf("%d CustomResourceDefinitions created or present, %d objects accepted (dry-run: %v), %d refused\n", created, dry, *dryRun, len(failed))
	if len(failed) > 0 {
		return errors.New("refused:\n  " + strings.Join(failed, "\n  "))
	}
	return nil
}

func waitEstablished(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, name string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		o, err := dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("CustomResourceDefinition %s not established after 30s (last error: %v)", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
