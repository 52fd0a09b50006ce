package main

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// mf is one metadata.managedFields entry.
func mf(manager, op, apiVersion string, t time.Time, fields obj, sub string) obj {
	return o("manager", manager, "operation", op, "apiVersion", apiVersion, "time", tsSec(t),
		"fieldsType", "FieldsV1", "fieldsV1", fields, "subresource", sub)
}

func labels(kv ...string) obj {
	m := obj{}
	for i := 0; i+1 < len(kv); i += 2 {
		m = append(m, kv2(kv[i], kv[i+1]))
	}
	return m
}

func kv2(k string, v any) kv { return kv{k, v} }

// fieldSet builds a FieldsV1 set {"f:a":{}, "f:b":{}} from keys.
func fieldSet(keys ...string) obj {
	m := obj{}
	for _, k := range keys {
		m = append(m, kv{k, obj{}})
	}
	return m
}

func podFields(rsUID string) obj {
	return o(
		"f:metadata", o("f:generateName", empty, "f:labels", fieldSet("f:app", "f:pod-template-hash"),
			"f:ownerReferences", fieldSet(`k:{"uid":"`+rsUID+`"}`)),
		"f:spec", o("f:containers", fieldSet(`k:{"name":"app"}`), "f:dnsPolicy", empty, "f:enableServiceLinks", empty,
			"f:restartPolicy", empty, "f:schedulerName", empty, "f:securityContext", empty, "f:serviceAccount", empty,
			"f:serviceAccountName", empty, "f:terminationGracePeriodSeconds", empty),
	)
}

func podStatusFields(ip string) obj {
	return o("f:status", o(
		"f:conditions", fieldSet(`k:{"type":"ContainersReady"}`, `k:{"type":"Initialized"}`, `k:{"type":"PodReadyToStartContainers"}`, `k:{"type":"Ready"}`),
		"f:containerStatuses", empty, "f:hostIP", empty, "f:hostIPs", empty, "f:phase", empty,
		"f:podIP", empty, "f:podIPs", fieldSet(`k:{"ip":"`+ip+`"}`), "f:startTime", empty))
}

// podIP returns a stable pod address on n.
func podIP(n *node, i int) string {
	parts := strings.Split(n.ip, ".")
	return fmt.Sprintf("%s.%s.%s.%d", parts[0], parts[1], parts[2], (len(n.name)*7+i*13)%250+3)
}

// podObj is a Pod of app a as the apiserver stores it.
func (g *gen) podObj(c *cluster, a *app, i int, t time.Time, privileged bool, withStatus bool) obj {
	n := a.nodes[i]
	sc := obj(nil)
	if privileged {
		sc = o("privileged", true, "capabilities", o("add", []string{"SYS_ADMIN", "NET_ADMIN"}))
	}
	containers := []any{o(
		"name", "app",
		"image", a.image,
		"ports", []any{o("name", "http", "containerPort", a.port, "protocol", "TCP")},
		"env", []any{o("name", "LOG_LEVEL", "value", "info"), o("name", "POD_NAME", "valueFrom", o("fieldRef", o("apiVersion", "v1", "fieldPath", "metadata.name")))},
		"resources", o("limits", o("memory", "512Mi"), "requests", o("cpu", "100m", "memory", "256Mi")),
		"volumeMounts", []any{o("name", "kube-api-access-"+a.hash[:5], "readOnly", true, "mountPath", "/var/run/secrets/kubernetes.io/serviceaccount")},
		"terminationMessagePath", "/dev/termination-log",
		"terminationMessagePolicy", "File",
		"imagePullPolicy", "IfNotPresent",
		"securityContext", sc,
	)}
	var volumes []any
	volumes = append(volumes, o("name", "kube-api-access-"+a.hash[:5], "projected", o(
		"sources", []any{
			o("serviceAccountToken", o("expirationSeconds", 3607, "path", "token")),
			o("configMap", o("name", "kube-root-ca.crt", "items", []any{o("key", "ca.crt", "path", "ca.crt")})),
			o("downwardAPI", o("items", []any{o("path", "namespace", "fieldRef", o("apiVersion", "v1", "fieldPath", "metadata.namespace"))})),
		},
		"defaultMode", 420)))
	if privileged {
		volumes = append(volumes, o("name", "host-root", "hostPath", o("path", "/", "type", "")))
		containers[0] = append(containers[0].(obj), kv{"volumeMounts", []any{o("name", "host-root", "mountPath", "/host")}})
	}
	meta := o(
		"name", a.pods[i],
		"generateName", a.name+"-"+a.hash+"-",
		"namespace", a.ns,
		"uid", a.podUIDs[i],
		"resourceVersion", c.nextRV(g),
		"creationTimestamp", tsSec(t),
		"labels", labels("app", a.name, "pod-template-hash", a.hash),
		"ownerReferences", []any{o("apiVersion", "apps/v1", "kind", "ReplicaSet", "name", a.name+"-"+a.hash, "uid", a.rsUID, "controller", true, "blockOwnerDeletion", true)},
		"managedFields", []any{mf("kube-controller-manager", "Update", "v1", t, podFields(a.rsUID), "")},
	)
	if withStatus {
		meta = meta.without("managedFields").after("ownerReferences", "managedFields", []any{
			mf("kube-controller-manager", "Update", "v1", t, podFields(a.rsUID), ""),
			mf("kubelet", "Update", "v1", t.Add(3*time.Second), podStatusFields(podIP(n, i)), "status"),
		})
	}
	spec := o(
		"volumes", volumes,
		"containers", containers,
		"restartPolicy", "Always",
		"terminationGracePeriodSeconds", 30,
		"dnsPolicy", "ClusterFirst",
		"serviceAccountName", a.sa,
		"serviceAccount", a.sa,
		"nodeName", n.name,
		"hostNetwork", nilIf(!privileged, true),
		"hostPID", nilIf(!privileged, true),
		"securityContext", empty,
		"schedulerName", "default-scheduler",
		"tolerations", []any{
			o("key", "node.kubernetes.io/not-ready", "operator", "Exists", "effect", "NoExecute", "tolerationSeconds", 300),
			o("key", "node.kubernetes.io/unreachable", "operator", "Exists", "effect", "NoExecute", "tolerationSeconds", 300),
		},
		"priority", 0,
		"enableServiceLinks", true,
		"preemptionPolicy", "PreemptLowerPriority",
	)
	status := o("phase", "Pending", "qosClass", "Burstable")
	if withStatus {
		st := t.Add(2 * time.Second)
		status = o(
			"phase", "Running",
			"conditions", []any{
				o("type", "PodReadyToStartContainers", "status", "True", "lastProbeTime", null, "lastTransitionTime", tsSec(st.Add(3*time.Second))),
				o("type", "Initialized", "status", "True", "lastProbeTime", null, "lastTransitionTime", tsSec(st)),
				o("type", "Ready", "status", "True", "lastProbeTime", null, "lastTransitionTime", tsSec(st.Add(9*time.Second))),
				o("type", "ContainersReady", "status", "True", "lastProbeTime", null, "lastTransitionTime", tsSec(st.Add(9*time.Second))),
				o("type", "PodScheduled", "status", "True", "lastProbeTime", null, "lastTransitionTime", tsSec(t)),
			},
			"hostIP", n.ip,
			"hostIPs", []any{o("ip", n.ip)},
			"podIP", podIP(n, i),
			"podIPs", []any{o("ip", podIP(n, i))},
			"startTime", tsSec(st),
			"containerStatuses", []any{o(
				"name", "app",
				"state", o("running", o("startedAt", tsSec(st.Add(8*time.Second)))),
				"lastState", empty,
				"ready", true,
				"restartCount", 0,
				"image", a.image,
				"imageID", imageID(a.image),
				"containerID", "containerd://"+hexOf(a.podUIDs[i], 64),
				"started", true,
			)},
			"qosClass", "Burstable",
		)
	}
	return o("kind", "Pod", "apiVersion", "v1", "metadata", meta, "spec", spec, "status", status)
}

func nilIf(cond bool, v any) any {
	if cond {
		return nil
	}
	return v
}

// hexOf derives a stable hex string of length n from s.
func hexOf(s string, n int) string {
	var h uint64 = 14695981039346656037
	var b strings.Builder
	for b.Len() < n {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
		fmt.Fprintf(&b, "%016x", h)
	}
	return b.String()[:n]
}

func imageID(image string) string {
	repo := image
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		repo = image[:i]
	}
	return repo + "@sha256:" + hexOf(image, 64)
}

// podTemplate is the pod template of a's Deployment.
func podTemplate(a *app, image string) obj {
	return o(
		"metadata", o("creationTimestamp", null, "labels", labels("app", a.name)),
		"spec", o(
			"containers", []any{o("name", "app", "image", image,
				"ports", []any{o("name", "http", "containerPort", a.port, "protocol", "TCP")},
				"resources", o("limits", o("memory", "512Mi"), "requests", o("cpu", "100m", "memory", "256Mi")),
				"terminationMessagePath", "/dev/termination-log", "terminationMessagePolicy", "File", "imagePullPolicy", "IfNotPresent")},
			"restartPolicy", "Always", "terminationGracePeriodSeconds", 30, "dnsPolicy", "ClusterFirst",
			"serviceAccountName", a.sa, "serviceAccount", a.sa, "securityContext", empty, "schedulerName", "default-scheduler"),
	)
}

// deploymentApply is the body kubectl apply --server-side (or a CI tool)
// sends: the desired state only.
func deploymentApply(a *app, image string, replicas int) obj {
	return o(
		"apiVersion", "apps/v1",
		"kind", "Deployment",
		"metadata", o("name", a.name, "namespace", a.ns, "labels", labels("app", a.name, "app.kubernetes.io/managed-by", "kubectl")),
		"spec", o(
			"replicas", replicas,
			"selector", o("matchLabels", labels("app", a.name)),
			"template", o(
				"metadata", o("labels", labels("app", a.name)),
				"spec", o("serviceAccountName", a.sa, "containers", []any{o("name", "app", "image", image,
					"ports", []any{o("name", "http", "containerPort", a.port)},
					"resources", o("limits", o("memory", "512Mi"), "requests", o("cpu", "100m", "memory", "256Mi")))}),
			),
		),
	)
}

// deploymentObj is the stored Deployment.
func (g *gen) deploymentObj(c *cluster, a *app, image string, replicas int, gen int, t time.Time) obj {
	return o(
		"kind", "Deployment",
		"apiVersion", "apps/v1",
		"metadata", o(
			"name", a.name, "namespace", a.ns, "uid", a.uid, "resourceVersion", c.nextRV(g), "generation", gen,
			"creationTimestamp", tsSec(a.created),
			"labels", labels("app", a.name, "app.kubernetes.io/managed-by", "kubectl"),
			"annotations", labels("deployment.kubernetes.io/revision", fmt.Sprint(gen)),
			"managedFields", []any{
				mf("kubectl", "Apply", "apps/v1", t, o("f:metadata", o("f:labels", fieldSet("f:app", "f:app.kubernetes.io/managed-by")),
					"f:spec", o("f:replicas", empty, "f:selector", empty, "f:template", o("f:metadata", o("f:labels", fieldSet("f:app")),
						"f:spec", o("f:containers", fieldSet(`k:{"name":"app"}`), "f:serviceAccountName", empty)))), ""),
				mf("kube-controller-manager", "Update", "apps/v1", t.Add(-time.Hour), o("f:metadata", o("f:annotations", fieldSet("f:deployment.kubernetes.io/revision")),
					"f:status", fieldSet("f:availableReplicas", "f:conditions", "f:observedGeneration", "f:readyReplicas", "f:replicas", "f:updatedReplicas")), "status"),
			},
		),
		"spec", o(
			"replicas", replicas,
			"selector", o("matchLabels", labels("app", a.name)),
			"template", podTemplate(a, image),
			"strategy", o("type", "RollingUpdate", "rollingUpdate", o("maxUnavailable", "25%", "maxSurge", "25%")),
			"revisionHistoryLimit", 10,
			"progressDeadlineSeconds", 600,
		),
		"status", o(
			"observedGeneration", gen-1,
			"replicas", replicas, "updatedReplicas", replicas, "readyReplicas", replicas, "availableReplicas", replicas,
			"conditions", []any{
				o("type", "Available", "status", "True", "lastUpdateTime", tsSec(a.created), "lastTransitionTime", tsSec(a.created), "reason", "MinimumReplicasAvailable", "message", "Deployment has minimum availability."),
				o("type", "Progressing", "status", "True", "lastUpdateTime", tsSec(t.Add(-time.Hour)), "lastTransitionTime", tsSec(a.created), "reason", "NewReplicaSetAvailable", "message", fmt.Sprintf("ReplicaSet %q has successfully progressed.", a.name+"-"+a.hash)),
			},
		),
	)
}

// leaseObj is a coordination.k8s.io/v1 Lease.
func leaseObj(name, ns, uid, rv, holder string, dur int, acquire, renew time.Time, transitions int, created time.Time, manager string, ownerNode *node, stored bool) obj {
	meta := o("name", name, "namespace", ns)
	if stored || rv != "" {
		meta = o("name", name, "namespace", ns, "uid", uid, "resourceVersion", rv, "creationTimestamp", tsSec(created))
		if ownerNode != nil {
			meta = append(meta, kv{"ownerReferences", []any{o("apiVersion", "v1", "kind", "Node", "name", ownerNode.name, "uid", ownerNode.uid)}})
		}
		if stored {
			meta = append(meta, kv{"managedFields", []any{mf(manager, "Update", "coordination.k8s.io/v1", renew.Truncate(time.Second),
				o("f:metadata", nilIf(ownerNode == nil, o("f:ownerReferences", fieldSet(`k:{"uid":"`+uidOr(ownerNode)+`"}`))),
					"f:spec", fieldSet("f:holderIdentity", "f:leaseDurationSeconds", "f:renewTime")), "")}})
		}
	}
	spec := o("holderIdentity", holder, "leaseDurationSeconds", dur)
	if !acquire.IsZero() {
		spec = append(spec, kv{"acquireTime", ts(acquire)})
	}
	spec = append(spec, kv{"renewTime", ts(renew)})
	if transitions > 0 {
		spec = append(spec, kv{"leaseTransitions", transitions})
	}
	return o("kind", "Lease", "apiVersion", "coordination.k8s.io/v1", "metadata", meta, "spec", spec)
}

func uidOr(n *node) string {
	if n == nil {
		return ""
	}
	return n.uid
}

// nodeStatusPatch is the strategic-merge patch a kubelet sends with
// PATCH nodes/<name>/status.
func nodeStatusPatch(n *node, t time.Time, images []string) obj {
	types := []string{"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"}
	var order, conds []any
	for _, ty := range types {
		order = append(order, o("type", ty))
		conds = append(conds, o("lastHeartbeatTime", tsSec(t), "type", ty))
	}
	st := o("$setElementOrder/conditions", order, "conditions", conds)
	if images != nil {
		var imgs []any
		for i, im := range images {
			imgs = append(imgs, o("names", []string{imageID(im), im}, "sizeBytes", 18_000_000+i*7_340_033))
		}
		st = append(st, kv{"images", imgs})
	}
	return o("status", st)
}

// podStatusPatch is the patch a kubelet sends when a container restarts.
func podStatusPatch(a *app, i int, t time.Time, restarts int) obj {
	types := []string{"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"}
	var order []any
	for _, ty := range types {
		order = append(order, o("type", ty))
	}
	return o(
		"metadata", o("uid", a.podUIDs[i]),
		"status", o(
			"$setElementOrder/conditions", order,
			"conditions", []any{
				o("lastTransitionTime", tsSec(t), "message", "containers with unready status: [app]", "reason", "ContainersNotReady", "status", "False", "type", "Ready"),
				o("lastTransitionTime", tsSec(t), "message", "containers with unready status: [app]", "reason", "ContainersNotReady", "status", "False", "type", "ContainersReady"),
			},
			"containerStatuses", []any{o(
				"containerID", "containerd://"+hexOf(fmt.Sprint(a.podUIDs[i], restarts), 64),
				"image", a.image, "imageID", imageID(a.image),
				"lastState", o("terminated", o("containerID", "containerd://"+hexOf(fmt.Sprint(a.podUIDs[i], restarts-1), 64), "exitCode", 137,
					"finishedAt", tsSec(t.Add(-2*time.Second)), "reason", "OOMKilled", "startedAt", tsSec(t.Add(-47*time.Minute)))),
				"name", "app", "ready", false, "restartCount", restarts, "started", false,
				"state", o("waiting", o("message", "back-off 10s restarting failed container=app pod="+a.pods[i]+"_"+a.ns+"("+a.podUIDs[i]+")", "reason", "CrashLoopBackOff")),
			)},
		),
	)
}

// awsAuth is the EKS aws-auth ConfigMap.
func awsAuth(c *cluster, rv, uid string, extraRole string, t time.Time, stored bool) obj {
	roles := "- groups:\n  - system:bootstrappers\n  - system:nodes\n  rolearn: arn:aws:iam::111122223333:role/EKSNodeRole\n  username: system:node:{{EC2PrivateDNSName}}\n" +
		"- groups:\n  - system:bootstrappers\n  - system:nodes\n  - system:node-proxier\n  rolearn: arn:aws:iam::111122223333:role/EKSFargatePodExecutionRole\n  username: system:node:{{SessionName}}\n" +
		"- groups:\n  - ci:deployers\n  rolearn: arn:aws:iam::111122223333:role/GitHubActionsDeployRole\n  username: github-actions\n"
	if extraRole != "" {
		roles += extraRole
	}
	users := "- groups:\n  - system:masters\n  userarn: arn:aws:iam::111122223333:user/platform-admin\n  username: kubernetes-admin\n"
	meta := o("name", "aws-auth", "namespace", "kube-system")
	if stored {
		meta = o("name", "aws-auth", "namespace", "kube-system", "uid", uid, "resourceVersion", rv, "creationTimestamp", tsSec(c.created.Add(20*time.Minute)),
			"managedFields", []any{mf("kubectl-edit", "Update", "v1", t, o("f:data", fieldSet("f:mapRoles", "f:mapUsers")), "")})
	}
	return o("kind", "ConfigMap", "apiVersion", "v1", "metadata", meta, "data", o("mapRoles", roles, "mapUsers", users))
}

// secretObj is an Opaque Secret with base64 data.
func (g *gen) secretObj(c *cluster, ns, name string, data [][2]string, t time.Time, stored bool) obj {
	d := obj{}
	for _, p := range data {
		d = append(d, kv{p[0], base64.StdEncoding.EncodeToString([]byte(p[1]))})
	}
	meta := o("name", name, "namespace", ns, "creationTimestamp", null)
	if stored {
		meta = o("name", name, "namespace", ns, "uid", g.uuid(), "resourceVersion", c.nextRV(g), "creationTimestamp", tsSec(t),
			"managedFields", []any{mf("kubectl-create", "Update", "v1", t, o("f:data", fieldSet(keysOf(data)...), "f:type", empty), "")})
	}
	return o("kind", "Secret", "apiVersion", "v1", "metadata", meta, "data", d, "type", "Opaque")
}

func keysOf(data [][2]string) []string {
	var ks []string
	for _, p := range data {
		ks = append(ks, "f:"+p[0])
	}
	return ks
}

// table is a meta.k8s.io/v1 Table, what kubectl get receives.
func (g *gen) podTable(c *cluster, a *app, t time.Time) obj {
	cols := []any{
		o("name", "Name", "type", "string", "format", "name", "description", "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", "priority", 0),
		o("name", "Ready", "type", "string", "format", "", "description", "The aggregate readiness state of this pod for accepting traffic.", "priority", 0),
		o("name", "Status", "type", "string", "format", "", "description", "The aggregate status of the containers in this pod.", "priority", 0),
		o("name", "Restarts", "type", "string", "format", "", "description", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", "priority", 0),
		o("name", "Age", "type", "string", "format", "", "description", "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata", "priority", 0),
		o("name", "IP", "type", "string", "format", "", "description", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", "priority", 1),
		o("name", "Node", "type", "string", "format", "", "description", "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler with the given name. Once the pod is bound to a node, the scheduler will not reschedule it. Further details: https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/", "priority", 1),
	}
	var rows []any
	for i := range a.pods {
		created := a.created.Add(time.Duration(i) * time.Minute)
		rows = append(rows, o(
			"cells", []any{a.pods[i], "1/1", "Running", 0, age(t.Sub(created)), podIP(a.nodes[i], i), a.nodes[i].name},
			"object", o("kind", "PartialObjectMetadata", "apiVersion", "meta.k8s.io/v1", "metadata", o(
				"name", a.pods[i], "generateName", a.name+"-"+a.hash+"-", "namespace", a.ns, "uid", a.podUIDs[i],
				"resourceVersion", c.nextRV(g), "creationTimestamp", tsSec(created),
				"labels", labels("app", a.name, "pod-template-hash", a.hash),
				"ownerReferences", []any{o("apiVersion", "apps/v1", "kind", "ReplicaSet", "name", a.name+"-"+a.hash, "uid", a.rsUID, "controller", true, "blockOwnerDeletion", true)},
				"managedFields", []any{
					mf("kube-controller-manager", "Update", "v1", created, podFields(a.rsUID), ""),
					mf("kubelet", "Update", "v1", created.Add(11*time.Second), podStatusFields(podIP(a.nodes[i], i)), "status"),
				},
			)),
		))
	}
	return o("kind", "Table", "apiVersion", "meta.k8s.io/v1", "metadata", o("resourceVersion", c.nextRV(g)), "columnDefinitions", cols, "rows", rows)
}

func age(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
}

// podList is a PodList with every item's managedFields.
func (g *gen) podList(c *cluster, a *app, t time.Time) obj {
	var items []any
	for i := range a.pods {
		p := g.podObj(c, a, i, a.created.Add(time.Duration(i)*time.Minute), false, true)
		items = append(items, p.without("kind").without("apiVersion"))
	}
	return o("kind", "PodList", "apiVersion", "v1", "metadata", o("resourceVersion", c.nextRV(g)), "items", items)
}

// eventObj is a core/v1 Event as a kubelet or controller posts it.
func (g *gen) eventObj(c *cluster, a *app, i int, reason, msg, typ, component, host string, t time.Time, response bool) obj {
	name := a.pods[i] + "." + g.str(lowerHex, 16)
	meta := o("name", name, "namespace", a.ns, "creationTimestamp", null)
	if response {
		meta = o("name", name, "namespace", a.ns, "uid", g.uuid(), "resourceVersion", c.nextRV(g), "creationTimestamp", tsSec(t),
			"managedFields", []any{mf(component, "Update", "v1", t, fieldSet("f:count", "f:firstTimestamp", "f:involvedObject", "f:lastTimestamp", "f:message", "f:reason", "f:reportingComponent", "f:reportingInstance", "f:source", "f:type"), "")})
	}
	return o(
		"kind", "Event", "apiVersion", "v1",
		"metadata", meta,
		"involvedObject", o("kind", "Pod", "namespace", a.ns, "name", a.pods[i], "uid", a.podUIDs[i], "apiVersion", "v1", "resourceVersion", fmt.Sprint(c.rv-int64(g.r.IntN(5000))), "fieldPath", "spec.containers{app}"),
		"reason", reason,
		"message", msg,
		"source", o("component", component, "host", host),
		"firstTimestamp", tsSec(t),
		"lastTimestamp", tsSec(t),
		"count", 1,
		"type", typ,
		"eventTime", null,
		"reportingComponent", component,
		"reportingInstance", host,
	)
}

// csrObj is a kubelet client-certificate CertificateSigningRequest.
func (g *gen) csrObj(c *cluster, n *node, t time.Time, stored bool, name string) obj {
	pem := "-----BEGIN CERTIFICATE REQUEST-----\n"
	raw := make([]byte, 180)
	for i := range raw {
		raw[i] = byte(g.r.UintN(256))
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 64 {
		pem += enc[:64] + "\n"
		enc = enc[64:]
	}
	pem += enc + "\n-----END CERTIFICATE REQUEST-----\n"
	meta := o("generateName", "csr-", "creationTimestamp", null)
	if stored {
		meta = o("name", name, "generateName", "csr-", "uid", g.uuid(), "resourceVersion", c.nextRV(g), "creationTimestamp", tsSec(t),
			"managedFields", []any{mf("kubelet", "Update", "certificates.k8s.io/v1", t, o("f:metadata", o("f:generateName", empty), "f:spec", fieldSet("f:request", "f:signerName", "f:usages")), "")})
	}
	spec := o("request", base64.StdEncoding.EncodeToString([]byte(pem)), "signerName", "kubernetes.io/kube-apiserver-client-kubelet",
		"usages", []string{"digital signature", "client auth"})
	if stored {
		spec = append(spec, kv{"username", n.kubelet.user.Username}, kv{"groups", n.kubelet.user.Groups})
	}
	return o("kind", "CertificateSigningRequest", "apiVersion", "certificates.k8s.io/v1", "metadata", meta, "spec", spec, "status", empty)
}

// crbObj is a ClusterRoleBinding.
func (g *gen) crbObj(c *cluster, name, role, subjKind, subj, subjNS string, t time.Time, stored bool) obj {
	meta := o("name", name, "creationTimestamp", null)
	if stored {
		meta = o("name", name, "uid", g.uuid(), "resourceVersion", c.nextRV(g), "creationTimestamp", tsSec(t),
			"managedFields", []any{mf("kubectl-create", "Update", "rbac.authorization.k8s.io/v1", t, o("f:roleRef", empty, "f:subjects", empty), "")})
	}
	s := o("kind", subjKind, "name", subj, "namespace", subjNS)
	if subjKind != "ServiceAccount" {
		s = o("kind", subjKind, "apiGroup", "rbac.authorization.k8s.io", "name", subj)
	}
	return o("kind", "ClusterRoleBinding", "apiVersion", "rbac.authorization.k8s.io/v1", "metadata", meta,
		"subjects", []any{s}, "roleRef", o("apiGroup", "rbac.authorization.k8s.io", "kind", "ClusterRole", "name", role))
}

// clusterRoleObj is a ClusterRole with the given rules.
func (g *gen) clusterRoleObj(c *cluster, name string, rules []any, t time.Time, stored bool) obj {
	meta := o("name", name, "creationTimestamp", null)
	if stored {
		meta = o("name", name, "uid", g.uuid(), "resourceVersion", c.nextRV(g), "creationTimestamp", tsSec(t),
			"managedFields", []any{mf("kubectl-client-side-apply", "Update", "rbac.authorization.k8s.io/v1", t, o("f:rules", empty), "")})
	}
	return o("kind", "ClusterRole", "apiVersion", "rbac.authorization.k8s.io/v1", "metadata", meta, "rules", rules)
}

func rule(groups, resources, verbs []string) obj {
	return o("verbs", verbs, "apiGroups", groups, "resources", resources)
}

// sarObj is a SubjectAccessReview as metrics-server or an admission webhook sends it.
func sarObj(u User, verb, group, resource, ns string, allowed bool, response bool) obj {
	spec := o("resourceAttributes", o("namespace", ns, "verb", verb, "group", group, "resource", resource),
		"user", u.Username, "groups", u.Groups, "uid", u.UID)
	st := obj(empty)
	if response {
		st = o("allowed", allowed, "reason", nilIf(!allowed, `RBAC: allowed by ClusterRoleBinding "prometheus" of ClusterRole "prometheus" to ServiceAccount "prometheus/monitoring"`))
	}
	return o("kind", "SubjectAccessReview", "apiVersion", "authorization.k8s.io/v1", "metadata", o("creationTimestamp", null), "spec", spec, "status", st)
}

// endpointSliceObj is the EndpointSlice of a's Service.
func (g *gen) endpointSliceObj(c *cluster, a *app, t time.Time, stored bool, ready int) obj {
	var eps []any
	for i := range a.pods {
		eps = append(eps, o("addresses", []string{podIP(a.nodes[i], i)},
			"conditions", o("ready", i < ready, "serving", i < ready, "terminating", false),
			"targetRef", o("kind", "Pod", "namespace", a.ns, "name", a.pods[i], "uid", a.podUIDs[i]),
			"nodeName", a.nodes[i].name, "zone", zoneOf(c, a.nodes[i])))
	}
	name := a.name + "-" + a.hash[:5]
	meta := o("name", name, "generateName", a.name+"-", "namespace", a.ns,
		"labels", labels("endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io", "kubernetes.io/service-name", a.name))
	if stored {
		meta = o("name", name, "generateName", a.name+"-", "namespace", a.ns, "uid", hexUUID(a.uid+"eps"), "resourceVersion", c.nextRV(g),
			"generation", 40+g.r.IntN(200), "creationTimestamp", tsSec(a.created),
			"labels", labels("endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io", "kubernetes.io/service-name", a.name),
			"managedFields", []any{mf("kube-controller-manager", "Update", "discovery.k8s.io/v1", t, o("f:addressType", empty, "f:endpoints", empty, "f:metadata", o("f:labels", empty), "f:ports", empty), "")})
	}
	return o("kind", "EndpointSlice", "apiVersion", "discovery.k8s.io/v1", "metadata", meta, "addressType", "IPv4",
		"endpoints", eps, "ports", []any{o("name", "http", "protocol", "TCP", "port", a.port)})
}

func hexUUID(s string) string {
	h := hexOf(s, 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

func zoneOf(c *cluster, n *node) string {
	switch c.flavor {
	case flavorEKS:
		return "ap-northeast-1" + string("acd"[len(n.name)%3])
	case flavorACK:
		return "cn-hangzhou-" + string("hij"[len(n.name)%3])
	}
	return "lab"
}
