package main

import (
	"fmt"
	"strings"
	"time"
)

// scenario produces one or more related requests on cluster c.
type scenario struct {
	name   string
	weight float64
	run    func(g *gen, c *cluster)
}

// scenarios is the traffic mix: mostly machine traffic (heartbeats, leader
// election, watches, reads by components), a minority of human and CI
// activity, and rare security-relevant actions.
var scenarios = []scenario{
	{"node-lease", 22, (*gen).nodeLease},
	{"leader-election", 13, (*gen).leaderElection},
	{"kubelet-reads", 9, (*gen).kubeletReads},
	{"control-plane-reads", 8, (*gen).controlPlaneReads},
	{"agent-reads", 6, (*gen).agentReads},
	{"non-resource", 6, (*gen).nonResource},
	{"kube-proxy-watch", 4, (*gen).kubeProxyWatch},
	{"node-status", 4, (*gen).nodeStatus},
	{"coredns-watch", 3, (*gen).corednsWatch},
	{"kubelet-events", 3, (*gen).kubeletEvents},
	{"controller-writes", 3, (*gen).controllerWrites},
	{"token-request", 2.5, (*gen).tokenRequest},
	{"cni", 2, (*gen).cni},
	{"kubectl-get-pods", 2, (*gen).kubectlGetPods},
	{"reviews", 1.5, (*gen).reviews},
	{"anonymous-probe", 1.2, (*gen).anonymousProbe},
	{"ci-deploy", 1.2, (*gen).ciDeploy},
	{"pod-status", 1, (*gen).podStatus},
	{"kubectl-get-deployment", 0.8, (*gen).kubectlGetDeployment},
	{"exec", 0.7, (*gen).interactive},
	{"forbidden", 0.6, (*gen).forbidden},
	{"secrets", 0.6, (*gen).secrets},
	{"kubectl-list-json", 0.4, (*gen).kubectlListJSON},
	{"csr", 0.3, (*gen).csr},
	{"rbac-change", 0.25, (*gen).rbacChange},
	{"identity-mapping", 0.15, (*gen).identityMapping},
	{"privileged-pod", 0.15, (*gen).privilegedPod},
	{"namespace-lifecycle", 0.1, (*gen).namespaceLifecycle},
}

func (g *gen) node(c *cluster) *node { return c.nodes[g.r.IntN(len(c.nodes))] }

func (g *gen) ec2Node(c *cluster) *node {
	for {
		if n := g.node(c); !n.fargate {
			return n
		}
	}
}

func (g *gen) appOf(c *cluster) *app { return c.apps[g.r.IntN(len(c.apps))] }

func (g *gen) after(d time.Duration) { g.now = g.now.Add(d) }

// nodeLease: kubelet renews its Lease in kube-node-lease (every 10 s).
func (g *gen) nodeLease(c *cluster) {
	n := g.node(c)
	renew := g.now
	rv := c.nextRV(g)
	uid := hexUUID(n.uid + "lease")
	req := leaseObj(n.name, "kube-node-lease", uid, rv, n.name, 40, time.Time{}, renew, 0, c.created, "kubelet", n, false)
	req = req.without("metadata").after("apiVersion", "metadata", o("name", n.name, "namespace", "kube-node-lease", "uid", uid, "resourceVersion", rv,
		"creationTimestamp", tsSec(c.created.Add(time.Hour)), "ownerReferences", []any{o("apiVersion", "v1", "kind", "Node", "name", n.name, "uid", n.uid)},
		"managedFields", []any{mf("kubelet", "Update", "coordination.k8s.io/v1", renew.Add(-10*time.Second).Truncate(time.Second),
			o("f:metadata", o("f:ownerReferences", fieldSet(`k:{"uid":"`+n.uid+`"}`)), "f:spec", fieldSet("f:holderIdentity", "f:leaseDurationSeconds", "f:renewTime")), "")}))
	resp := leaseObj(n.name, "kube-node-lease", uid, c.nextRV(g), n.name, 40, time.Time{}, renew, 0, c.created.Add(time.Hour), "kubelet", n, true)
	g.emit(call{c: c, a: n.kubelet, verb: "update", uri: apiPath("coordination.k8s.io", "v1", "kube-node-lease", "leases", n.name, "") + query("timeout", "10s"),
		ref: &ObjectRef{Resource: "leases", Namespace: "kube-node-lease", Name: n.name, APIGroup: "coordination.k8s.io", APIVersion: "v1"},
		req: req, resp: resp})
}

// leaderElection: a control-plane component or controller renews its lock.
func (g *gen) leaderElection(c *cluster) {
	type lock struct {
		a      *actor
		name   string
		holder string
		dur    int
	}
	locks := []lock{
		{c.kcm, "kube-controller-manager", "ip-10-0-2-57.ap-northeast-1.compute.internal_" + hexUUID(c.name+"kcm"), 15},
		{c.sched, "kube-scheduler", "ip-10-0-18-201.ap-northeast-1.compute.internal_" + hexUUID(c.name+"sched"), 15},
	}
	switch c.flavor {
	case flavorEKS:
		locks = append(locks, lock{c.ccm, "cloud-controller-manager", "ip-10-0-18-201.ap-northeast-1.compute.internal_" + hexUUID(c.name+"ccm"), 15},
			lock{c.agents[len(c.agents)-2], "aws-load-balancer-controller-leader", "aws-load-balancer-controller-7f9c6d8b6d-" + hexOf(c.name, 5), 15})
	case flavorACK:
		locks[0].holder = "iZbp1" + hexOf(c.name, 17) + "_" + hexUUID(c.name+"kcm")
		locks[1].holder = "iZbp1" + hexOf(c.name+"2", 17) + "_" + hexUUID(c.name+"sched")
		locks = append(locks, lock{c.ccm, "ccm", c.ccm.user.Extra["authentication.kubernetes.io/pod-name"][0], 15},
			lock{c.agents[2], "storage-operator", c.agents[2].user.Extra["authentication.kubernetes.io/pod-name"][0], 30})
	case flavorSelf:
		locks[0].holder = "cp-1_" + hexUUID(c.name+"kcm")
		locks[1].holder = "cp-1_" + hexUUID(c.name+"sched")
		locks = append(locks, lock{c.agents[0], "cert-manager-controller", "cp-1_" + hexUUID(c.name+"cm"), 60})
	}
	l := locks[g.r.IntN(len(locks))]
	ref := &ObjectRef{Resource: "leases", Namespace: "kube-system", Name: l.name, APIGroup: "coordination.k8s.io", APIVersion: "v1"}
	uri := apiPath("coordination.k8s.io", "v1", "kube-system", "leases", l.name, "")
	uid := hexUUID(c.name + l.name)
	acquire := c.created.Add(time.Duration(len(l.name)) * time.Hour)
	// Lock holders read the lease, then update it.
	cur := leaseObj(l.name, "kube-system", uid, c.nextRV(g), l.holder, l.dur, acquire, g.now.Add(-2*time.Second), 7, c.created, l.a.ua, nil, true)
	t := g.emit(call{c: c, a: l.a, verb: "get", uri: uri + query("timeout", "5s"), ref: ref, resp: cur})
	g.now = t.Add(time.Duration(200+g.r.IntN(800)) * time.Microsecond)
	rv := c.nextRV(g)
	req := leaseObj(l.name, "kube-system", uid, rv, l.holder, l.dur, acquire, g.now, 7, c.created, "", nil, false)
	resp := leaseObj(l.name, "kube-system", uid, c.nextRV(g), l.holder, l.dur, acquire, g.now, 7, c.created, managerOf(l.a.ua), nil, true)
	g.emit(call{c: c, a: l.a, verb: "update", uri: uri + query("timeout", "5s"), ref: ref, req: req, resp: resp})
}

// managerOf returns the field manager name a client uses (its UA's first word).
func managerOf(ua string) string {
	for i := 0; i < len(ua); i++ {
		if ua[i] == '/' || ua[i] == ' ' {
			return ua[:i]
		}
	}
	return ua
}

// kubeletReads: a kubelet reads its Node, its pods' ConfigMaps and Secrets.
func (g *gen) kubeletReads(c *cluster) {
	n := g.ec2Node(c)
	switch g.r.IntN(5) {
	case 0, 1:
		g.emit(call{c: c, a: n.kubelet, verb: "get", uri: apiPath("", "v1", "", "nodes", n.name, "") + query("resourceVersion", "0", "timeout", "10s"),
			ref: &ObjectRef{Resource: "nodes", Name: n.name, APIVersion: "v1"}})
	case 2:
		a := g.appOf(c)
		g.emit(call{c: c, a: n.kubelet, verb: "watch",
			uri: apiPath("", "v1", a.ns, "secrets", "", "") + query("allowWatchBookmarks", "true", "fieldSelector", "metadata.name="+a.name+"-env", "resourceVersion", c.nextRV(g), "timeout", "7m16s", "timeoutSeconds", "436", "watch", "true"),
			ref: &ObjectRef{Resource: "secrets", Namespace: a.ns, Name: a.name + "-env", APIVersion: "v1"}, long: g.watchDuration(436), panic: g.chance(0.01)})
	case 3:
		a := g.appOf(c)
		g.emit(call{c: c, a: n.kubelet, verb: "list",
			uri: apiPath("", "v1", a.ns, "configmaps", "", "") + query("fieldSelector", "metadata.name=kube-root-ca.crt", "limit", "500", "resourceVersion", "0"),
			ref: &ObjectRef{Resource: "configmaps", Namespace: a.ns, APIVersion: "v1"}})
	case 4:
		g.emit(call{c: c, a: n.kubelet, verb: "watch",
			uri: apiPath("", "v1", "", "pods", "", "") + query("allowWatchBookmarks", "true", "fieldSelector", "spec.nodeName="+n.name, "resourceVersion", c.nextRV(g), "timeoutSeconds", "583", "watch", "true"),
			ref: &ObjectRef{Resource: "pods", APIVersion: "v1"}, long: g.watchDuration(583), panic: g.chance(0.01)})
	}
}

// watchDuration is how long a watch with the given timeout stays open.
func (g *gen) watchDuration(timeout int) time.Duration {
	return time.Duration(timeout)*time.Second + time.Duration(g.r.IntN(900))*time.Microsecond
}

// controlPlaneReads: scheduler and controller-manager informers.
func (g *gen) controlPlaneReads(c *cluster) {
	type rd struct {
		a                     *actor
		group, ver, res, verb string
	}
	rds := []rd{
		{c.sched, "", "v1", "pods", "watch"},
		{c.sched, "", "v1", "nodes", "watch"},
		{c.sched, "storage.k8s.io", "v1", "csinodes", "watch"},
		{c.sched, "policy", "v1", "poddisruptionbudgets", "watch"},
		{c.kcm, "", "v1", "serviceaccounts", "watch"},
		{c.kcm, "apps", "v1", "replicasets", "watch"},
		{c.kcm, "", "v1", "namespaces", "list"},
		{c.kcm, "batch", "v1", "cronjobs", "list"},
		{c.kcm, "", "v1", "secrets", "watch"},
		{c.kcm, "metrics.k8s.io", "v1beta1", "pods", "list"},
	}
	r := rds[g.r.IntN(len(rds))]
	ref := &ObjectRef{Resource: r.res, APIGroup: r.group, APIVersion: r.ver}
	if r.res == "pods" && r.group == "metrics.k8s.io" {
		a := g.appOf(c)
		ref.Namespace = a.ns
		g.emit(call{c: c, a: r.a, verb: "list", uri: apiPath(r.group, r.ver, a.ns, r.res, "", "") + query("labelSelector", "app="+a.name), ref: ref})
		return
	}
	if r.verb == "list" {
		g.emit(call{c: c, a: r.a, verb: "list", uri: apiPath(r.group, r.ver, "", r.res, "", "") + query("limit", "500", "resourceVersion", "0"), ref: ref})
		return
	}
	to := 300 + g.r.IntN(300)
	g.emit(call{c: c, a: r.a, verb: "watch",
		uri: apiPath(r.group, r.ver, "", r.res, "", "") + query("allowWatchBookmarks", "true", "resourceVersion", c.nextRV(g), "timeout", fmt.Sprintf("%dm%ds", to/60, to%60), "timeoutSeconds", fmt.Sprint(to), "watch", "true"),
		ref: ref, long: g.watchDuration(to), panic: g.chance(0.01)})
}

// agentReads: managed-control-plane agents and add-ons.
func (g *gen) agentReads(c *cluster) {
	a := c.agents[g.r.IntN(len(c.agents))]
	switch g.r.IntN(3) {
	case 0:
		g.emit(call{c: c, a: a, verb: "list", uri: apiPath("", "v1", "", "nodes", "", "") + query("limit", "100"), ref: &ObjectRef{Resource: "nodes", APIVersion: "v1"}})
	case 1:
		g.emit(call{c: c, a: a, verb: "list", uri: apiPath("", "v1", "", "pods", "", "") + query("limit", "500", "resourceVersion", "0"), ref: &ObjectRef{Resource: "pods", APIVersion: "v1"}})
	default:
		n := g.node(c)
		g.emit(call{c: c, a: a, verb: "get", uri: apiPath("", "v1", "", "nodes", n.name, ""), ref: &ObjectRef{Resource: "nodes", Name: n.name, APIVersion: "v1"}})
	}
}

// nonResource: health checks, metrics scrapes, discovery.
func (g *gen) nonResource(c *cluster) {
	switch g.r.IntN(7) {
	case 0, 1: // load balancer / kubelet probes
		path := g.pick([]string{"/livez", "/readyz", "/healthz", "/readyz?verbose", "/livez/ping"})
		probe := &actor{user: User{Username: "system:anonymous", Groups: []string{"system:unauthenticated"}}, ua: "kube-probe/" + c.version[1:5], ips: []string{c.nodes[0].ip},
			reason: `RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"`}
		if c.flavor == flavorEKS {
			probe.ua = "ELB-HealthChecker/2.0"
			probe.ips = []string{"10.0.0.11"}
		}
		g.emit(call{c: c, a: probe, verb: "get", uri: path, latency: time.Duration(300+g.r.IntN(2000)) * time.Microsecond})
	case 2:
		g.emit(call{c: c, a: c.metrics, verb: "get", uri: "/metrics", latency: time.Duration(20+g.r.IntN(60)) * time.Millisecond})
	case 3:
		a := g.pick2(c.agents)
		g.emit(call{c: c, a: a, verb: "get", uri: g.pick([]string{"/api", "/apis", "/apis/apps/v1", "/apis/coordination.k8s.io/v1", "/apis/discovery.k8s.io/v1"}) + query("timeout", "32s")})
	case 4:
		h := g.pick2(c.humans)
		g.emit(call{c: c, a: h, verb: "get", uri: g.pick([]string{"/api", "/apis", "/openapi/v3", "/openapi/v3/api/v1", "/version"}) + query("timeout", "32s")})
	case 5:
		g.emit(call{c: c, a: c.metrics, verb: "get", uri: "/version" + query("timeout", "32s")})
	default:
		g.emit(call{c: c, a: c.coredns, verb: "get", uri: "/apis/discovery.k8s.io/v1" + query("timeout", "32s")})
	}
}

func (g *gen) pick2(as []*actor) *actor { return as[g.r.IntN(len(as))] }

// kubeProxyWatch: kube-proxy on a node (re)opens its watches.
func (g *gen) kubeProxyWatch(c *cluster) {
	n := g.node(c)
	res, group := "services", ""
	if g.chance(0.5) {
		res, group = "endpointslices", "discovery.k8s.io"
	}
	ver := "v1"
	to := 300 + g.r.IntN(300)
	q := query("allowWatchBookmarks", "true", "labelSelector", "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name",
		"resourceVersion", c.nextRV(g), "timeout", fmt.Sprintf("%dm%ds", to/60, to%60), "timeoutSeconds", fmt.Sprint(to), "watch", "true")
	g.emit(call{c: c, a: n.proxy, verb: "watch", uri: apiPath(group, ver, "", res, "", "") + q,
		ref: &ObjectRef{Resource: res, APIGroup: group, APIVersion: ver}, long: g.watchDuration(to), panic: g.chance(0.02)})
}

// nodeStatus: kubelet status report (heartbeat conditions, sometimes images).
func (g *gen) nodeStatus(c *cluster) {
	n := g.ec2Node(c)
	var images []string
	if g.chance(0.3) {
		for _, a := range c.apps {
			images = append(images, a.image)
		}
		images = append(images, "registry.k8s.io/pause:3.9")
	}
	g.emit(call{c: c, a: n.kubelet, verb: "patch", uri: apiPath("", "v1", "", "nodes", n.name, "status") + query("timeout", "10s"),
		ref: &ObjectRef{Resource: "nodes", Name: n.name, APIVersion: "v1", Subresource: "status"}, req: nodeStatusPatch(n, g.now, images)})
}

// podStatus: a container was OOM-killed and the kubelet reports it.
func (g *gen) podStatus(c *cluster) {
	a := g.appOf(c)
	i := g.r.IntN(len(a.pods))
	n := a.nodes[i]
	g.emit(call{c: c, a: n.kubelet, verb: "patch", uri: apiPath("", "v1", a.ns, "pods", a.pods[i], "status"),
		ref: &ObjectRef{Resource: "pods", Namespace: a.ns, Name: a.pods[i], APIVersion: "v1", Subresource: "status"}, req: podStatusPatch(a, i, g.now, 1+g.r.IntN(6))})
}

// corednsWatch: CoreDNS's informers.
func (g *gen) corednsWatch(c *cluster) {
	res, group := g.pick([]string{"services", "namespaces", "endpointslices"}), ""
	if res == "endpointslices" {
		group = "discovery.k8s.io"
	}
	to := 300 + g.r.IntN(300)
	verb := "watch"
	q := query("allowWatchBookmarks", "true", "resourceVersion", c.nextRV(g), "timeout", fmt.Sprintf("%dm%ds", to/60, to%60), "timeoutSeconds", fmt.Sprint(to), "watch", "true")
	long := g.watchDuration(to)
	if g.chance(0.15) {
		verb, q, long = "list", query("limit", "500", "resourceVersion", "0"), 0
	}
	g.emit(call{c: c, a: c.coredns, verb: verb, uri: apiPath(group, "v1", "", res, "", "") + q,
		ref: &ObjectRef{Resource: res, APIGroup: group, APIVersion: "v1"}, long: long})
}

// kubeletEvents: the kubelet posts an Event about a pod.
func (g *gen) kubeletEvents(c *cluster) {
	a := g.appOf(c)
	i := g.r.IntN(len(a.pods))
	n := a.nodes[i]
	reasons := [][3]string{
		{"Unhealthy", "Readiness probe failed: Get \"http://" + podIP(n, i) + fmt.Sprintf(":%d/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", a.port), "Warning"},
		{"Pulled", "Container image \"" + a.image + "\" already present on machine", "Normal"},
		{"BackOff", "Back-off restarting failed container app in pod " + a.pods[i] + "_" + a.ns + "(" + a.podUIDs[i] + ")", "Warning"},
		{"Killing", "Stopping container app", "Normal"},
	}
	r := reasons[g.r.IntN(len(reasons))]
	req := g.eventObj(c, a, i, r[0], r[1], r[2], "kubelet", n.name, g.now, false)
	resp := req.without("metadata").after("apiVersion", "metadata", o("name", req.get("metadata").(obj).get("name"), "namespace", a.ns, "uid", g.uuid(), "resourceVersion", c.nextRV(g), "creationTimestamp", tsSec(g.now),
		"managedFields", []any{mf("kubelet", "Update", "v1", g.now, fieldSet("f:count", "f:firstTimestamp", "f:involvedObject", "f:lastTimestamp", "f:message", "f:reason", "f:reportingComponent", "f:reportingInstance", "f:source", "f:type"), "")}))
	g.emit(call{c: c, a: n.kubelet, verb: "create", uri: apiPath("", "v1", a.ns, "events", "", ""), code: 201,
		ref: &ObjectRef{Resource: "events", Namespace: a.ns, APIVersion: "v1"}, req: req, resp: resp})
}

// controllerWrites: endpoint slices and deployment status from kube-controller-manager.
func (g *gen) controllerWrites(c *cluster) {
	a := g.appOf(c)
	if g.chance(0.6) {
		ctl := c.kcmSA["endpointslice-controller"]
		eps := g.endpointSliceObj(c, a, g.now, true, len(a.pods)-g.r.IntN(2))
		name := a.name + "-" + a.hash[:5]
		g.emit(call{c: c, a: ctl, verb: "update", uri: apiPath("discovery.k8s.io", "v1", a.ns, "endpointslices", name, ""),
			ref: &ObjectRef{Resource: "endpointslices", Namespace: a.ns, Name: name, APIGroup: "discovery.k8s.io", APIVersion: "v1"}, req: eps, resp: eps})
		return
	}
	ctl := c.kcmSA["deployment-controller"]
	d := g.deploymentObj(c, a, a.image, a.replicas, 4, g.now)
	g.emit(call{c: c, a: ctl, verb: "update", uri: apiPath("apps", "v1", a.ns, "deployments", a.name, "status"),
		ref: &ObjectRef{Resource: "deployments", Namespace: a.ns, Name: a.name, APIGroup: "apps", APIVersion: "v1", Subresource: "status"}, req: d, resp: d})
}

// tokenRequest: the kubelet refreshes a projected service-account token.
func (g *gen) tokenRequest(c *cluster) {
	a := g.appOf(c)
	i := g.r.IntN(len(a.pods))
	g.emit(call{c: c, a: a.nodes[i].kubelet, verb: "create", uri: apiPath("", "v1", a.ns, "serviceaccounts", a.sa, "token"), code: 201,
		ref: &ObjectRef{Resource: "serviceaccounts", Namespace: a.ns, Name: a.sa, APIVersion: "v1", Subresource: "token"}})
}

// cni: the CNI agent annotates pods / reads nodes.
func (g *gen) cni(c *cluster) {
	n := g.ec2Node(c)
	if g.chance(0.5) {
		g.emit(call{c: c, a: c.cni, verb: "get", uri: apiPath("", "v1", "", "nodes", n.name, ""), ref: &ObjectRef{Resource: "nodes", Name: n.name, APIVersion: "v1"}})
		return
	}
	a := g.appOf(c)
	i := g.r.IntN(len(a.pods))
	g.emit(call{c: c, a: c.cni, verb: "list", uri: apiPath("", "v1", "", "pods", "", "") + query("fieldSelector", "spec.nodeName="+a.nodes[i].name, "limit", "500"),
		ref: &ObjectRef{Resource: "pods", APIVersion: "v1"}})
}

// kubectlGetPods: `kubectl get pods`, which asks for a Table.
func (g *gen) kubectlGetPods(c *cluster) {
	h := g.pick2(c.humans)
	a := g.appOf(c)
	g.emit(call{c: c, a: h, verb: "list", uri: apiPath("", "v1", a.ns, "pods", "", "") + query("limit", "500"),
		ref: &ObjectRef{Resource: "pods", Namespace: a.ns, APIVersion: "v1"}, resp: g.podTable(c, a, g.now)})
}

// kubectlListJSON: `kubectl get pods -o json`, a full PodList.
func (g *gen) kubectlListJSON(c *cluster) {
	h := g.pick2(c.humans)
	a := g.appOf(c)
	g.emit(call{c: c, a: h, verb: "list", uri: apiPath("", "v1", a.ns, "pods", "", "") + query("labelSelector", "app="+a.name, "limit", "500"),
		ref: &ObjectRef{Resource: "pods", Namespace: a.ns, APIVersion: "v1"}, resp: g.podList(c, a, g.now)})
}

// kubectlGetDeployment: `kubectl get deployment x -o yaml`.
func (g *gen) kubectlGetDeployment(c *cluster) {
	h := g.pick2(c.humans)
	a := g.appOf(c)
	g.emit(call{c: c, a: h, verb: "get", uri: apiPath("apps", "v1", a.ns, "deployments", a.name, ""),
		ref: &ObjectRef{Resource: "deployments", Namespace: a.ns, Name: a.name, APIGroup: "apps", APIVersion: "v1"}, resp: g.deploymentObj(c, a, a.image, a.replicas, 4, g.now)})
}

// ciDeploy: the CI identity applies a new image; the controllers roll it out.
func (g *gen) ciDeploy(c *cluster) {
	a := g.appOf(c)
	ref := &ObjectRef{Resource: "deployments", Namespace: a.ns, Name: a.name, APIGroup: "apps", APIVersion: "v1"}
	uri := apiPath("apps", "v1", a.ns, "deployments", a.name, "")
	t := g.emit(call{c: c, a: c.ci, verb: "get", uri: uri, ref: ref, resp: g.deploymentObj(c, a, a.image, a.replicas, 4, g.now)})
	g.now = t.Add(time.Duration(30+g.r.IntN(200)) * time.Millisecond)
	image := a.image + "-rc" + fmt.Sprint(1+g.r.IntN(9))
	t = g.emit(call{c: c, a: c.ci, verb: "patch", uri: uri + query("fieldManager", "kubectl", "fieldValidation", "Strict", "force", "false"), ref: ref,
		req: deploymentApply(a, image, a.replicas), resp: g.deploymentObj(c, a, image, a.replicas, 5, g.now)})
	// The ReplicaSet controller creates a pod of the new revision.
	g.now = t.Add(time.Duration(40+g.r.IntN(300)) * time.Millisecond)
	i := g.r.IntN(len(a.pods))
	pod := g.podObj(c, a, i, g.now, false, false)
	req := pod.without("metadata").after("apiVersion", "metadata", o("generateName", a.name+"-"+a.hash+"-", "namespace", a.ns, "creationTimestamp", null,
		"labels", labels("app", a.name, "pod-template-hash", a.hash),
		"ownerReferences", []any{o("apiVersion", "apps/v1", "kind", "ReplicaSet", "name", a.name+"-"+a.hash, "uid", a.rsUID, "controller", true, "blockOwnerDeletion", true)}))
	ann := map[string]string{"pod-security.kubernetes.io/enforce-policy": "baseline:latest"}
	if c.flavor == flavorEKS {
		ann["mutation.webhook.admission.k8s.io/round_0_index_0"] = `{"configuration":"pod-identity-webhook","webhook":"iam-for-pods.amazonaws.com","mutated":false}`
	}
	g.emit(call{c: c, a: c.kcmSA["replicaset-controller"], verb: "create", uri: apiPath("", "v1", a.ns, "pods", "", ""), code: 201,
		ref: &ObjectRef{Resource: "pods", Namespace: a.ns, APIVersion: "v1"}, req: req, resp: pod, annotations: ann})
}

// interactive: exec, attach or port-forward by a human.
func (g *gen) interactive(c *cluster) {
	h := g.pick2(c.humans)
	if h == c.readers[0] && g.chance(0.7) {
		h = c.admin
	}
	a := g.appOf(c)
	i := g.r.IntN(len(a.pods))
	var sub, q string
	switch g.r.IntN(5) {
	case 0, 1, 2:
		sub = "exec"
		q = query("command", "/bin/sh", "container", "app", "stdin", "true", "stdout", "true", "tty", "true")
		if g.chance(0.4) {
			q = query("command", "cat", "command", "/etc/passwd", "container", "app", "stderr", "true", "stdout", "true")
		}
	case 3:
		sub = "attach"
		q = query("container", "app", "stdin", "true", "stdout", "true", "tty", "true")
	default:
		sub = "portforward"
	}
	verb := "create"
	if sub != "portforward" && strings.Contains(h.ua, "kubectl/v1.30") {
		verb = "get" // kubectl >= 1.30 streams over WebSockets, a GET
	}
	g.emit(call{c: c, a: h, verb: verb, uri: apiPath("", "v1", a.ns, "pods", a.pods[i], sub) + q, code: 101,
		ref:  &ObjectRef{Resource: "pods", Namespace: a.ns, Name: a.pods[i], APIVersion: "v1", Subresource: sub},
		long: time.Duration(5+g.r.IntN(900)) * time.Second, latency: time.Duration(20+g.r.IntN(80)) * time.Millisecond})
}

// forbidden: users and service accounts refused by RBAC.
func (g *gen) forbidden(c *cluster) {
	h := g.pick2(c.readers)
	a := g.appOf(c)
	tries := []struct {
		verb string
		ref  ObjectRef
		uri  string
	}{
		{"list", ObjectRef{Resource: "secrets", Namespace: "kube-system", APIVersion: "v1"}, apiPath("", "v1", "kube-system", "secrets", "", "") + query("limit", "500")},
		{"delete", ObjectRef{Resource: "namespaces", Name: a.ns, APIVersion: "v1"}, apiPath("", "v1", "", "namespaces", a.ns, "")},
		{"create", ObjectRef{Resource: "clusterrolebindings", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1"}, apiPath("rbac.authorization.k8s.io", "v1", "", "clusterrolebindings", "", "") + query("fieldManager", "kubectl-create", "fieldValidation", "Strict")},
		{"create", ObjectRef{Resource: "pods", Namespace: "kube-system", Name: c.coredns.user.Extra["authentication.kubernetes.io/pod-name"][0], APIVersion: "v1", Subresource: "exec"}, apiPath("", "v1", "kube-system", "pods", c.coredns.user.Extra["authentication.kubernetes.io/pod-name"][0], "exec") + query("command", "sh", "container", "coredns", "stdin", "true", "stdout", "true", "tty", "true")},
		{"get", ObjectRef{Resource: "nodes", APIVersion: "v1", Name: c.nodes[0].name, Subresource: "proxy"}, apiPath("", "v1", "", "nodes", c.nodes[0].name, "proxy") + "/configz"},
	}
	t := tries[g.r.IntN(len(tries))]
	ref := t.ref
	g.emit(call{c: c, a: h, verb: t.verb, uri: t.uri, ref: &ref, forbidden: forbiddenMsg(h.user.Username, t.verb, &ref, t.uri)})
}

// secrets: humans and CI read and create Secrets.
func (g *gen) secrets(c *cluster) {
	h := g.pick2(c.humans)
	a := g.appOf(c)
	name := a.name + "-env"
	ref := &ObjectRef{Resource: "secrets", Namespace: a.ns, Name: name, APIVersion: "v1"}
	switch g.r.IntN(3) {
	case 0:
		g.emit(call{c: c, a: h, verb: "get", uri: apiPath("", "v1", a.ns, "secrets", name, ""), ref: ref})
	case 1:
		g.emit(call{c: c, a: h, verb: "list", uri: apiPath("", "v1", a.ns, "secrets", "", "") + query("limit", "500"), ref: &ObjectRef{Resource: "secrets", Namespace: a.ns, APIVersion: "v1"}})
	default:
		name = a.name + "-db-" + g.str(alnum, 4)
		data := [][2]string{{"DB_USER", a.name}, {"DB_PASSWORD", g.str(alnum+"ABCDEFGHJKMNPQRSTUVWXYZ", 24)}, {"DB_HOST", a.name + "-db." + a.ns + ".svc.cluster.local"}}
		req := g.secretObj(c, a.ns, name, data, g.now, false)
		resp := g.secretObj(c, a.ns, name, data, g.now, true)
		g.emit(call{c: c, a: c.ci, verb: "create", uri: apiPath("", "v1", a.ns, "secrets", "", "") + query("fieldManager", "kubectl-create", "fieldValidation", "Strict"), code: 201,
			ref: &ObjectRef{Resource: "secrets", Namespace: a.ns, Name: name, APIVersion: "v1"}, req: req, resp: resp})
	}
}

// csr: a node renews its client certificate; the approver approves it.
func (g *gen) csr(c *cluster) {
	n := g.ec2Node(c)
	name := "csr-" + g.str(alnum, 5)
	req := g.csrObj(c, n, g.now, false, name)
	resp := g.csrObj(c, n, g.now, true, name)
	t := g.emit(call{c: c, a: n.kubelet, verb: "create", uri: apiPath("certificates.k8s.io", "v1", "", "certificatesigningrequests", "", ""), code: 201,
		ref: &ObjectRef{Resource: "certificatesigningrequests", Name: name, APIGroup: "certificates.k8s.io", APIVersion: "v1"}, req: req, resp: resp})
	g.now = t.Add(time.Duration(5+g.r.IntN(40)) * time.Millisecond)
	approver := c.kcmSA["certificate-controller"]
	if c.flavor == flavorEKS {
		approver = c.agents[1] // eks:certificate-controller
	}
	approved := resp.without("status").after("spec", "status", o("conditions", []any{o("type", "Approved", "status", "True",
		"reason", "AutoApproved", "message", "Auto approving self kubelet client certificate after SubjectAccessReview.",
		"lastUpdateTime", tsSec(g.now), "lastTransitionTime", tsSec(g.now))}))
	g.emit(call{c: c, a: approver, verb: "update", uri: apiPath("certificates.k8s.io", "v1", "", "certificatesigningrequests", name, "approval"),
		ref: &ObjectRef{Resource: "certificatesigningrequests", Name: name, APIGroup: "certificates.k8s.io", APIVersion: "v1", Subresource: "approval"}, req: approved, resp: approved})
}

// rbacChange: an administrator grants or widens permissions.
func (g *gen) rbacChange(c *cluster) {
	h := c.admin
	now := g.now
	switch g.r.IntN(3) {
	case 0:
		subj, kind, ns := "debug-tools", "ServiceAccount", "default"
		if g.chance(0.5) {
			subj, kind, ns = "contractor@example.com", "User", ""
		}
		name := "tmp-admin-" + g.str(alnum, 4)
		g.emit(call{c: c, a: h, verb: "create", uri: apiPath("rbac.authorization.k8s.io", "v1", "", "clusterrolebindings", "", "") + query("fieldManager", "kubectl-create", "fieldValidation", "Strict"), code: 201,
			ref:  &ObjectRef{Resource: "clusterrolebindings", Name: name, APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1"},
			req:  g.crbObj(c, name, "cluster-admin", kind, subj, ns, now, false),
			resp: g.crbObj(c, name, "cluster-admin", kind, subj, ns, now, true)})
	case 1:
		rules := []any{rule([]string{""}, []string{"pods", "pods/exec", "pods/log"}, []string{"get", "list", "create"}), rule([]string{"*"}, []string{"*"}, []string{"get", "list", "watch"})}
		g.emit(call{c: c, a: h, verb: "create", uri: apiPath("rbac.authorization.k8s.io", "v1", "", "clusterroles", "", "") + query("fieldManager", "kubectl-client-side-apply", "fieldValidation", "Strict"), code: 201,
			ref:  &ObjectRef{Resource: "clusterroles", Name: "support-debug", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1"},
			req:  g.clusterRoleObj(c, "support-debug", rules, now, false),
			resp: g.clusterRoleObj(c, "support-debug", rules, now, true)})
	default:
		name := "tmp-admin-" + g.str(alnum, 4)
		g.emit(call{c: c, a: h, verb: "delete", uri: apiPath("rbac.authorization.k8s.io", "v1", "", "clusterrolebindings", name, ""),
			ref:  &ObjectRef{Resource: "clusterrolebindings", Name: name, APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1"},
			resp: o("kind", "Status", "apiVersion", "v1", "metadata", empty, "status", "Success", "details", o("name", name, "group", "rbac.authorization.k8s.io", "kind", "clusterrolebindings", "uid", g.uuid()))})
	}
}

// identityMapping: the aws-auth ConfigMap (EKS) or a cluster-wide
// ConfigMap elsewhere is edited.
func (g *gen) identityMapping(c *cluster) {
	if c.flavor != flavorEKS {
		g.secrets(c)
		return
	}
	extra := "- groups:\n  - system:masters\n  rolearn: arn:aws:iam::111122223333:role/BreakGlassRole\n  username: break-glass\n"
	uid := hexUUID(c.name + "aws-auth")
	req := awsAuth(c, c.nextRV(g), uid, extra, g.now, false)
	resp := awsAuth(c, c.nextRV(g), uid, extra, g.now, true)
	g.emit(call{c: c, a: c.admin, verb: "update", uri: apiPath("", "v1", "kube-system", "configmaps", "aws-auth", "") + query("fieldManager", "kubectl-edit", "fieldValidation", "Strict"),
		ref: &ObjectRef{Resource: "configmaps", Namespace: "kube-system", Name: "aws-auth", APIVersion: "v1"}, req: req, resp: resp})
}

// privilegedPod: someone runs a privileged pod with the host filesystem.
func (g *gen) privilegedPod(c *cluster) {
	h := c.admin
	if c.flavor == flavorSelf {
		h = c.humans[1]
	}
	a := &app{ns: "default", name: "node-debugger", image: "docker.io/library/busybox:1.36", sa: "default", replicas: 1, uid: g.uuid(), rsUID: g.uuid(), hash: g.str(alnum, 10), port: 8080, created: g.now}
	a.pods = []string{"node-debugger-" + g.str(alnum, 5)}
	a.podUIDs = []string{g.uuid()}
	a.nodes = []*node{g.ec2Node(c)}
	pod := g.podObj(c, a, 0, g.now, true, false)
	meta := pod.get("metadata").(obj).without("ownerReferences").without("generateName").without("managedFields")
	meta = append(meta, kv{"managedFields", []any{mf("kubectl-run", "Update", "v1", g.now, o("f:spec", o("f:containers", empty, "f:hostNetwork", empty, "f:hostPID", empty, "f:volumes", empty)), "")}})
	resp := pod.without("metadata").after("apiVersion", "metadata", meta)
	req := pod.without("metadata").without("status").after("apiVersion", "metadata", o("name", a.pods[0], "namespace", "default", "creationTimestamp", null))
	ann := map[string]string{
		"pod-security.kubernetes.io/enforce-policy":   "privileged:latest",
		"pod-security.kubernetes.io/audit-violations": `would violate PodSecurity "restricted:latest": host namespaces (hostNetwork=true, hostPID=true), privileged (container "app" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]; container "app" must not include "NET_ADMIN", "SYS_ADMIN" in securityContext.capabilities.add), restricted volume types (volume "host-root" uses restricted volume type "hostPath"), runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
	}
	g.emit(call{c: c, a: h, verb: "create", uri: apiPath("", "v1", "default", "pods", "", "") + query("fieldManager", "kubectl-run"), code: 201,
		ref: &ObjectRef{Resource: "pods", Namespace: "default", Name: a.pods[0], APIVersion: "v1"}, req: req, resp: resp, annotations: ann})
}

// namespaceLifecycle: a namespace is created or removed.
func (g *gen) namespaceLifecycle(c *cluster) {
	name := "preview-pr-" + fmt.Sprint(1000+g.r.IntN(900))
	ref := &ObjectRef{Resource: "namespaces", Name: name, APIVersion: "v1"}
	ns := o("kind", "Namespace", "apiVersion", "v1", "metadata", o("name", name, "uid", g.uuid(), "resourceVersion", c.nextRV(g), "creationTimestamp", tsSec(g.now),
		"labels", labels("kubernetes.io/metadata.name", name),
		"managedFields", []any{mf("kubectl-create", "Update", "v1", g.now, o("f:metadata", o("f:labels", fieldSet("f:kubernetes.io/metadata.name"))), "")}),
		"spec", o("finalizers", []string{"kubernetes"}), "status", o("phase", "Active"))
	t := g.emit(call{c: c, a: c.ci, verb: "create", uri: apiPath("", "v1", "", "namespaces", "", "") + query("fieldManager", "kubectl-create"), code: 201,
		ref: ref, req: o("kind", "Namespace", "apiVersion", "v1", "metadata", o("name", name, "creationTimestamp", null), "spec", empty, "status", empty), resp: ns})
	g.now = t.Add(time.Duration(2+g.r.IntN(20)) * time.Second)
	g.emit(call{c: c, a: c.ci, verb: "delete", uri: apiPath("", "v1", "", "namespaces", name, ""), ref: ref,
		resp: append(ns.without("status"), kv{"status", o("phase", "Terminating")})})
	g.now = g.now.Add(time.Duration(100+g.r.IntN(400)) * time.Millisecond)
	g.emit(call{c: c, a: c.kcmSA["namespace-controller"], verb: "deletecollection", uri: apiPath("", "v1", name, "configmaps", "", ""),
		ref:  &ObjectRef{Resource: "configmaps", Namespace: name, APIVersion: "v1"},
		resp: o("kind", "ConfigMapList", "apiVersion", "v1", "metadata", o("resourceVersion", c.nextRV(g)), "items", []any{})})
}

// reviews: TokenReviews and SubjectAccessReviews by metrics-server.
func (g *gen) reviews(c *cluster) {
	if g.chance(0.5) {
		g.emit(call{c: c, a: c.metrics, verb: "create", uri: "/apis/authentication.k8s.io/v1/tokenreviews", code: 201,
			ref: &ObjectRef{Resource: "tokenreviews", APIGroup: "authentication.k8s.io", APIVersion: "v1"}})
		return
	}
	prom := User{Username: "system:serviceaccount:monitoring:prometheus", UID: hexUUID(c.name + "prom"), Groups: saGroups("monitoring")}
	g.emit(call{c: c, a: c.metrics, verb: "create", uri: "/apis/authorization.k8s.io/v1/subjectaccessreviews", code: 201,
		ref: &ObjectRef{Resource: "subjectaccessreviews", APIGroup: "authorization.k8s.io", APIVersion: "v1"},
		req: sarObj(prom, "get", "metrics.k8s.io", "pods", "", true, false), resp: sarObj(prom, "get", "metrics.k8s.io", "pods", "", true, true)})
}

// anonymousProbe: internet scanners hitting a public API endpoint.
func (g *gen) anonymousProbe(c *cluster) {
	if len(c.scanners) == 0 {
		g.nonResource(c)
		return
	}
	uas := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.113 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
		"Go-http-client/1.1",
		"Go-http-client/1.1",
		"python-requests/2.31.0",
		"Mozilla/5.0 zgrab/0.x",
		"curl/8.4.0",
	}
	anon := &actor{user: User{Username: "system:anonymous", Groups: []string{"system:unauthenticated"}}, ua: g.pick(uas), ips: []string{g.pick(c.scanners)}}
	paths := []string{"/", "/", "/.env", "/version", "/api/v1/pods", "/api/v1/namespaces/kube-system/secrets", "/apis", "/metrics", "/openapi/v2", "/favicon.ico", "/.git/config", "/wp-login.php"}
	p := g.pick(paths)
	var ref *ObjectRef
	verb := "get"
	switch p {
	case "/api/v1/pods":
		ref, verb = &ObjectRef{Resource: "pods", APIVersion: "v1"}, "list"
	case "/api/v1/namespaces/kube-system/secrets":
		ref, verb = &ObjectRef{Resource: "secrets", Namespace: "kube-system", APIVersion: "v1"}, "list"
	case "/version":
		anon.reason = `RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"`
		g.emit(call{c: c, a: anon, verb: "get", uri: p})
		return
	}
	g.emit(call{c: c, a: anon, verb: verb, uri: p, ref: ref, forbidden: forbiddenMsg("system:anonymous", verb, ref, p)})
}
