package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// gen holds the generator state. All randomness comes from r, so a seed
// fully determines the output.
type gen struct {
	r    *rand.Rand
	now  time.Time
	seq  int
	recs []rec
}

// rec is one generated event awaiting output.
type rec struct {
	t      time.Time
	seq    int
	e      obj
	legacy int
}

func (g *gen) add(t time.Time, e obj, legacy int) {
	g.recs = append(g.recs, rec{t: t, seq: g.seq, e: e, legacy: legacy})
	g.seq++
}

// uuid returns a random (version 4) UUID string.
func (g *gen) uuid() string {
	a, b := g.r.Uint64(), g.r.Uint64()
	a = a&^0xf000 | 0x4000         // version 4
	b = b&^(0xc<<60) | (0x8 << 60) // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

const (
	lowerHex = "0123456789abcdef"
	alnum    = "bcdfghjklmnpqrstvwxz2456789" // Kubernetes' name-suffix alphabet
	upperAZ  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	digits   = "0123456789"
)

func (g *gen) str(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// latency returns a plausible server latency for verb: log-normal around a
// per-verb median.
func (g *gen) latency(verb string) time.Duration {
	med := 1800.0 // µs
	switch verb {
	case "list":
		med = 9000
	case "create", "update", "patch":
		med = 7000
	case "delete", "deletecollection":
		med = 9000
	}
	us := med * math.Exp(g.r.NormFloat64()*0.55)
	if us < 150 {
		us = 150
	}
	return time.Duration(us) * time.Microsecond
}

// tick advances the clock by an exponentially distributed gap.
func (g *gen) tick(mean time.Duration) {
	g.now = g.now.Add(time.Duration(g.r.ExpFloat64() * float64(mean)))
}

// actor is an identity that sends requests.
type actor struct {
	user   User
	ua     string
	ips    []string
	reason string // authorization.k8s.io/reason when allowed
}

func (a *actor) ip(g *gen) string { return a.ips[g.r.IntN(len(a.ips))] }

// node is a worker node and its kubelet identity.
type node struct {
	name    string
	ip      string
	uid     string
	fargate bool
	kubelet *actor
	proxy   *actor // kube-proxy on this node
}

// app is a Deployment with its ReplicaSet and pods.
type app struct {
	ns, name, image string
	sa              string
	replicas        int
	uid, rsUID      string
	hash            string
	pods            []string
	podUIDs         []string
	nodes           []*node
	port            int
	created         time.Time
}

// Cluster flavours.
const (
	flavorEKS = iota
	flavorACK
	flavorSelf
)

// cluster is one source cluster of the sample: its nodes, components,
// people and workloads.
type cluster struct {
	name     string
	flavor   int
	version  string // kubelet/kube-* client version, "v1.29.3"
	hash     string // kubernetes/<hash> in user agents
	apiIP    string
	nodes    []*node
	kcm      *actor
	kcmSA    map[string]*actor // per-controller service accounts
	sched    *actor
	ccm      *actor
	coredns  *actor
	metrics  *actor
	agents   []*actor // eks:* / ACK add-ons / self-managed add-ons
	cni      *actor
	humans   []*actor
	admin    *actor
	ci       *actor
	readers  []*actor // humans with read-only rights (403 on writes)
	scanners []string // public addresses probing the endpoint
	apps     []*app
	rv       int64
	created  time.Time
}

// nextRV returns a fresh resourceVersion.
func (c *cluster) nextRV(g *gen) string {
	c.rv += int64(1 + g.r.IntN(40))
	return strconv.FormatInt(c.rv, 10)
}

func ua(component, version, osArch, hash string) string {
	return fmt.Sprintf("%s/%s (%s) kubernetes/%s", component, version, osArch, hash)
}

func rbac(kind, binding, role, subjectKind, subject string) string {
	return fmt.Sprintf("RBAC: allowed by %s %q of %s %q to %s %q", kind, binding, roleKind(kind), role, subjectKind, subject)
}

func roleKind(bindingKind string) string {
	if bindingKind == "RoleBinding" {
		return "Role"
	}
	return "ClusterRole"
}

var saGroups = func(ns string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
}

// sa builds a service-account identity running in a pod on n.
func (g *gen) sa(c *cluster, ns, name, uaStr, role string, n *node) *actor {
	u := User{
		Username: "system:serviceaccount:" + ns + ":" + name,
		UID:      g.uuid(),
		Groups:   saGroups(ns),
	}
	if n != nil {
		pod := name + "-" + g.str(alnum, 10) + "-" + g.str(alnum, 5)
		u.Extra = map[string][]string{
			"authentication.kubernetes.io/pod-name": {pod},
			"authentication.kubernetes.io/pod-uid":  {g.uuid()},
		}
		if c.flavor == flavorSelf { // 1.30: bound-token JTI and node binding
			u.Extra["authentication.kubernetes.io/credential-id"] = []string{"JTI=" + g.uuid()}
			u.Extra["authentication.kubernetes.io/node-name"] = []string{n.name}
			u.Extra["authentication.kubernetes.io/node-uid"] = []string{n.uid}
		}
	}
	ip := c.apiIP
	if n != nil {
		ip = n.ip
	}
	a := &actor{user: u, ua: uaStr, ips: []string{ip}}
	if role != "" {
		a.reason = rbac("ClusterRoleBinding", role, role, "ServiceAccount", name+"/"+ns)
	}
	return a
}

func (g *gen) publicIP() string {
	for {
		a := 11 + g.r.IntN(212)
		if a == 127 || a == 100 || a == 169 || a == 172 || a == 192 || a == 198 || a == 203 || a == 10 {
			continue
		}
		return fmt.Sprintf("%d.%d.%d.%d", a, g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254))
	}
}

// newEKS builds an EKS 1.29 cluster in ap-northeast-1 with managed node
// group instances and two Fargate nodes.
func (g *gen) newEKS() *cluster {
	const acct = "111122223333"
	c := &cluster{name: "shop-prod", flavor: flavorEKS, version: "v1.29.3", hash: "6813625", apiIP: "10.0.2.57", rv: 182734411}
	c.created = g.now.Add(-143 * 24 * time.Hour)
	kubeletVer, kubeletHash := "v1.29.3-eks-ae9a62a", "ae9a62a"
	for i := 0; i < 6; i++ {
		ip := fmt.Sprintf("10.0.%d.%d", 1+i%3*16+g.r.IntN(16), 10+g.r.IntN(240))
		name := "ip-" + dash(ip) + ".ap-northeast-1.compute.internal"
		inst := "i-0" + g.str(lowerHex, 16)
		n := &node{name: name, ip: ip, uid: g.uuid()}
		n.kubelet = &actor{
			user: User{
				Username: "system:node:" + name,
				UID:      "aws-iam-authenticator:" + acct + ":AROA" + g.str(upperAZ[:26], 17),
				Groups:   []string{"system:bootstrappers", "system:nodes", "system:authenticated"},
				Extra: map[string][]string{
					"accessKeyId":  {"ASIA" + g.str(upperAZ, 16)},
					"arn":          {"arn:aws:sts::" + acct + ":assumed-role/EKSNodeRole/" + inst},
					"canonicalArn": {"arn:aws:iam::" + acct + ":role/EKSNodeRole"},
					"sessionName":  {inst},
				},
			},
			ua:  ua("kubelet", kubeletVer, "linux/amd64", kubeletHash),
			ips: []string{ip},
		}
		c.nodes = append(c.nodes, n)
	}
	for i := 0; i < 2; i++ {
		ip := fmt.Sprintf("10.0.%d.%d", 3+i, 20+g.r.IntN(200))
		name := "fargate-ip-" + dash(ip) + ".ap-northeast-1.compute.internal"
		n := &node{name: name, ip: ip, uid: g.uuid(), fargate: true}
		n.kubelet = &actor{
			user: User{
				Username: "system:node:" + name,
				UID:      "aws-iam-authenticator:" + acct + ":AROA" + g.str(upperAZ[:26], 17),
				Groups:   []string{"system:bootstrappers", "system:nodes", "system:node-proxier", "system:authenticated"},
				Extra: map[string][]string{
					"accessKeyId":  {"ASIA" + g.str(upperAZ, 16)},
					"arn":          {"arn:aws:sts::" + acct + ":assumed-role/EKSFargatePodExecutionRole/" + name},
					"canonicalArn": {"arn:aws:iam::" + acct + ":role/EKSFargatePodExecutionRole"},
					"sessionName":  {name},
				},
			},
			ua:  ua("kubelet", "v1.29.0-eks-5e0fdde", "linux/amd64", "5e0fdde"),
			ips: []string{ip},
		}
		// On Fargate kube-proxy runs inside the node agent with the node's identity.
		n.proxy = &actor{user: n.kubelet.user, ua: ua("kube-proxy", "v1.29.0-eks-5e0fdde", "linux/amd64", "5e0fdde"), ips: []string{ip}}
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		if n.proxy == nil {
			n.proxy = g.sa(c, "kube-system", "kube-proxy", ua("kube-proxy", "v1.29.1-eksbuild.2", "linux/amd64", "bc4b0b3"), "eks:kube-proxy", n)
			n.proxy.reason = rbac("ClusterRoleBinding", "eks:kube-proxy", "system:node-proxier", "ServiceAccount", "kube-proxy/kube-system")
		}
	}
	cp := []string{"10.0.2.57", "10.0.18.201"}
	c.kcm = &actor{user: User{Username: "system:kube-controller-manager", Groups: []string{"system:authenticated"}}, ua: ua("kube-controller-manager", "v1.29.3-eks-adc7111", "linux/amd64", "adc7111") + "/leader-election", ips: cp,
		reason: rbac("ClusterRoleBinding", "system:kube-controller-manager", "system:kube-controller-manager", "User", "system:kube-controller-manager")}
	c.sched = &actor{user: User{Username: "system:kube-scheduler", Groups: []string{"system:authenticated"}}, ua: ua("kube-scheduler", "v1.29.3-eks-adc7111", "linux/amd64", "adc7111") + "/scheduler", ips: cp,
		reason: rbac("ClusterRoleBinding", "system:kube-scheduler", "system:kube-scheduler", "User", "system:kube-scheduler")}
	c.ccm = g.eksAgent("eks:cloud-controller-manager", ua("aws-cloud-controller-manager", "v1.29.1", "linux/amd64", "$Format"), "172.16.42.46")
	c.agents = []*actor{
		g.eksAgent("eks:k8s-metrics", ua("eks-k8s-metrics", "v0.0.0", "linux/amd64", "$Format"), "172.16.42.46"),
		g.eksAgent("eks:certificate-controller", ua("eks-certificates-controller", "v0.0.0", "linux/amd64", "$Format"), "172.16.42.46"),
		g.eksAgent("eks:addon-manager", ua("eks-addon-manager", "v0.0.0", "linux/amd64", "$Format"), "172.16.103.12"),
		g.eksAgent("eks:nodewatcher", ua("eks-nodewatcher", "v0.0.0", "linux/amd64", "$Format"), "172.16.42.46"),
		g.eksAgent("eks:pod-identity-mutating-webhook", ua("amazon-eks-pod-identity-webhook", "v0.0.0", "linux/amd64", "$Format"), "172.16.42.46"),
		g.eksAgent("eks:vpc-resource-controller", ua("vpc-resource-controller", "v0.0.0", "linux/amd64", "$Format"), "172.16.103.12"),
		g.eksAgent("eks:cluster-event-watcher", ua("eks-cluster-event-watcher", "v0.0.0", "linux/amd64", "$Format"), "172.16.42.46"),
	}
	c.kcmSA = g.kcmControllers(c, ua("kube-controller-manager", "v1.29.3-eks-adc7111", "linux/amd64", "adc7111"))
	c.coredns = g.sa(c, "kube-system", "coredns", ua("coredns", "v0.0.0", "linux/amd64", "$Format"), "system:coredns", c.nodes[0])
	c.metrics = g.sa(c, "kube-system", "metrics-server", ua("metrics-server", "v0.7.1", "linux/amd64", "$Format"), "system:metrics-server", c.nodes[1])
	c.cni = g.sa(c, "kube-system", "aws-node", ua("aws-node", "v1.18.1-eksbuild.3", "linux/amd64", "$Format"), "aws-node", c.nodes[2])
	c.agents = append(c.agents,
		g.sa(c, "kube-system", "aws-load-balancer-controller", ua("aws-load-balancer-controller", "v2.7.2", "linux/amd64", "$Format"), "aws-load-balancer-controller-rolebinding", c.nodes[3]),
		g.sa(c, "kube-system", "ebs-csi-controller-sa", ua("csi-provisioner", "v0.0.0", "linux/amd64", "$Format"), "ebs-csi-provisioner-binding", c.nodes[4]),
	)

	adminIP := g.publicIP()
	c.admin = &actor{
		user: User{
			Username: "kubernetes-admin",
			UID:      "aws-iam-authenticator:" + acct + ":AIDA" + g.str(upperAZ[:26], 17),
			Groups:   []string{"system:masters", "system:authenticated"},
			Extra: map[string][]string{
				"accessKeyId":  {"AKIA" + g.str(upperAZ, 16)},
				"arn":          {"arn:aws:iam::" + acct + ":user/platform-admin"},
				"canonicalArn": {"arn:aws:iam::" + acct + ":user/platform-admin"},
				"sessionName":  {""},
			},
		},
		ua:  ua("kubectl", "v1.29.2", "darwin/arm64", "4b8e819"),
		ips: []string{adminIP},
	}
	dev := &actor{
		user: User{
			Username: "arn:aws:sts::" + acct + ":assumed-role/DeveloperRole/alice",
			UID:      "aws-iam-authenticator:" + acct + ":AROA" + g.str(upperAZ[:26], 17),
			Groups:   []string{"shop-developers", "system:authenticated"},
			Extra: map[string][]string{
				"accessKeyId":  {"ASIA" + g.str(upperAZ, 16)},
				"arn":          {"arn:aws:sts::" + acct + ":assumed-role/DeveloperRole/alice"},
				"canonicalArn": {"arn:aws:iam::" + acct + ":role/DeveloperRole"},
				"principalId":  {"AROA" + g.str(upperAZ[:26], 17)},
				"sessionName":  {"alice"},
			},
		},
		ua:     ua("kubectl", "v1.30.1", "linux/amd64", "6911225"),
		ips:    []string{g.publicIP(), "10.0.250.14"},
		reason: `RBAC: allowed by RoleBinding "shop-developers/shop" of ClusterRole "edit" to Group "shop-developers"`,
	}
	c.humans = []*actor{c.admin, dev}
	c.readers = []*actor{dev}
	c.ci = &actor{
		user: User{
			Username: "github-actions",
			UID:      "aws-iam-authenticator:" + acct + ":AROA" + g.str(upperAZ[:26], 17),
			Groups:   []string{"ci:deployers", "system:authenticated"},
			Extra: map[string][]string{
				"accessKeyId":  {"ASIA" + g.str(upperAZ, 16)},
				"arn":          {"arn:aws:sts::" + acct + ":assumed-role/GitHubActionsDeployRole/GitHubActions"},
				"canonicalArn": {"arn:aws:iam::" + acct + ":role/GitHubActionsDeployRole"},
				"sessionName":  {"GitHubActions"},
			},
		},
		ua:     ua("kubectl", "v1.29.2", "linux/amd64", "4b8e819"),
		ips:    []string{g.publicIP(), g.publicIP(), g.publicIP()},
		reason: rbac("ClusterRoleBinding", "ci-deployers", "ci-deployer", "Group", "ci:deployers"),
	}
	c.scanners = []string{"193.118.53.210", g.publicIP(), g.publicIP(), g.publicIP(), g.publicIP()}
	c.apps = []*app{
		g.newApp(c, "shop", "cart", "111122223333.dkr.ecr.ap-northeast-1.amazonaws.com/shop/cart:2024.05.13-1", 3, 8080),
		g.newApp(c, "shop", "checkout", "111122223333.dkr.ecr.ap-northeast-1.amazonaws.com/shop/checkout:2024.05.10-4", 2, 8080),
		g.newApp(c, "shop", "frontend", "111122223333.dkr.ecr.ap-northeast-1.amazonaws.com/shop/frontend:2024.05.14-2", 2, 3000),
		g.newApp(c, "monitoring", "grafana", "grafana/grafana:10.4.2", 1, 3000),
	}
	return c
}

func (g *gen) eksAgent(name, uaStr, ip string) *actor {
	return &actor{user: User{Username: name, Groups: []string{"system:authenticated"}}, ua: uaStr, ips: []string{ip},
		reason: rbac("ClusterRoleBinding", name, name, "User", name)}
}

// kcmControllers returns the per-controller service accounts that
// kube-controller-manager uses (--use-service-account-credentials).
func (g *gen) kcmControllers(c *cluster, base string) map[string]*actor {
	m := map[string]*actor{}
	for _, name := range []string{"replicaset-controller", "deployment-controller", "endpointslice-controller", "generic-garbage-collector", "namespace-controller", "node-controller", "certificate-controller"} {
		a := g.sa(c, "kube-system", name, base+"/system:serviceaccount:kube-system:"+name, "", nil)
		a.reason = rbac("ClusterRoleBinding", "system:controller:"+name, "system:controller:"+name, "ServiceAccount", name+"/kube-system")
		a.ips = c.kcm.ips
		m[name] = a
	}
	return m
}

// newACK builds an ACK (Alibaba Cloud) 1.28 managed cluster in cn-hangzhou.
func (g *gen) newACK() *cluster {
	c := &cluster{name: "c8f3a1b2e4d5f4a6b8c9d0e1f2a3b4c5d", flavor: flavorACK, version: "v1.28.9", hash: "c57a5ad", apiIP: "192.168.0.210", rv: 50912733}
	c.created = g.now.Add(-411 * 24 * time.Hour)
	kubeletUA := ua("kubelet", "v1.28.9-aliyun.1", "linux/amd64", "c57a5ad")
	for i := 0; i < 5; i++ {
		ip := fmt.Sprintf("192.168.%d.%d", g.r.IntN(4), 2+g.r.IntN(250))
		name := "cn-hangzhou." + ip
		n := &node{name: name, ip: ip, uid: g.uuid()}
		n.kubelet = &actor{user: User{Username: "system:node:" + name, Groups: []string{"system:nodes", "system:authenticated"}}, ua: kubeletUA, ips: []string{ip}}
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		n.proxy = g.sa(c, "kube-system", "kube-proxy", ua("kube-proxy", "v1.28.9-aliyun.1", "linux/amd64", "c57a5ad"), "system:node-proxier", n)
		n.proxy.reason = rbac("ClusterRoleBinding", "system:node-proxier", "system:node-proxier", "ServiceAccount", "kube-proxy/kube-system")
	}
	cp := []string{"192.168.0.210", "192.168.1.211"}
	c.kcm = &actor{user: User{Username: "system:kube-controller-manager", Groups: []string{"system:authenticated"}}, ua: ua("kube-controller-manager", "v1.28.9-aliyun.1", "linux/amd64", "c57a5ad") + "/leader-election", ips: cp,
		reason: rbac("ClusterRoleBinding", "system:kube-controller-manager", "system:kube-controller-manager", "User", "system:kube-controller-manager")}
	c.sched = &actor{user: User{Username: "system:kube-scheduler", Groups: []string{"system:authenticated"}}, ua: ua("kube-scheduler", "v1.28.9-aliyun.1", "linux/amd64", "c57a5ad") + "/scheduler", ips: cp,
		reason: rbac("ClusterRoleBinding", "system:kube-scheduler", "system:kube-scheduler", "User", "system:kube-scheduler")}
	c.kcmSA = g.kcmControllers(c, ua("kube-controller-manager", "v1.28.9-aliyun.1", "linux/amd64", "c57a5ad"))
	c.ccm = g.sa(c, "kube-system", "cloud-controller-manager", ua("cloud-controller-manager", "v2.9.1", "linux/amd64", "$Format"), "system:cloud-controller-manager", c.nodes[0])
	c.coredns = g.sa(c, "kube-system", "coredns", ua("coredns", "v0.0.0", "linux/amd64", "$Format"), "system:coredns", c.nodes[1])
	c.metrics = g.sa(c, "kube-system", "metrics-server", ua("metrics-server", "v0.6.3", "linux/amd64", "$Format"), "system:metrics-server", c.nodes[2])
	c.cni = g.sa(c, "kube-system", "terway", ua("terway", "v1.8.2", "linux/amd64", "$Format"), "terway-binding", c.nodes[3])
	c.agents = []*actor{
		g.sa(c, "kube-system", "logtail-ds", ua("logtail", "v1.8.7", "linux/amd64", "$Format"), "alibaba-log-controller", c.nodes[4]),
		g.sa(c, "kube-system", "ack-node-problem-detector", ua("node-problem-detector", "v0.8.14", "linux/amd64", "$Format"), "ack-node-problem-detector", c.nodes[0]),
		g.sa(c, "kube-system", "storage-operator", ua("storage-operator", "v1.28.3", "linux/amd64", "$Format"), "storage-operator", c.nodes[1]),
	}
	// RAM users authenticate with client certificates whose CN is the RAM
	// user id; ACK binds its cs:* ClusterRoles to that id.
	owner := "27634412345678901"
	ram2 := "28173302468013579"
	c.admin = &actor{user: User{Username: owner, Groups: []string{"system:authenticated"}}, ua: ua("kubectl", "v1.28.4", "darwin/arm64", "bae2c62"),
		ips: []string{g.publicIP()}, reason: rbac("ClusterRoleBinding", owner+"-clusterrolebinding", "cs:admin", "User", owner)}
	dev := &actor{user: User{Username: ram2, Groups: []string{"system:authenticated"}}, ua: ua("kubectl", "v1.28.2", "windows/amd64", "89a4ea3"),
		ips: []string{g.publicIP()}, reason: `RBAC: allowed by RoleBinding "` + ram2 + `-default-rolebinding/default" of ClusterRole "cs:ns:dev" to User "` + ram2 + `"`}
	c.humans = []*actor{c.admin, dev}
	c.readers = []*actor{dev}
	c.ci = g.sa(c, "ci", "deployer", "Helm/3.14.4", "", c.nodes[2])
	c.ci.ips = []string{g.publicIP()}
	c.ci.user.Extra = nil // a long-lived token from outside the cluster
	c.ci.reason = `RBAC: allowed by RoleBinding "deployer/default" of ClusterRole "cs:ns:dev" to ServiceAccount "deployer/ci"`
	c.scanners = []string{g.publicIP(), g.publicIP()}
	c.apps = []*app{
		g.newApp(c, "default", "nginx-web", "registry.cn-hangzhou.aliyuncs.com/acs/nginx:1.25.4", 2, 80),
		g.newApp(c, "default", "order-api", "registry-vpc.cn-hangzhou.aliyuncs.com/acme/order-api:v3.2.1", 3, 8080),
	}
	return c
}

// newSelf builds a self-managed kubeadm 1.30 cluster.
func (g *gen) newSelf() *cluster {
	c := &cluster{name: "lab", flavor: flavorSelf, version: "v1.30.2", hash: "3968350", apiIP: "10.10.0.10", rv: 3912004}
	c.created = g.now.Add(-58 * 24 * time.Hour)
	kubeletUA := ua("kubelet", "v1.30.2", "linux/amd64", "3968350")
	for i, name := range []string{"cp-1", "worker-1", "worker-2", "worker-3"} {
		ip := fmt.Sprintf("10.10.0.%d", 10+i)
		n := &node{name: name, ip: ip, uid: g.uuid()}
		n.kubelet = &actor{user: User{Username: "system:node:" + name, Groups: []string{"system:nodes", "system:authenticated"}}, ua: kubeletUA, ips: []string{ip}}
		// kube-proxy with the legacy certificate identity (kube-up / "the hard way").
		n.proxy = &actor{user: User{Username: "system:kube-proxy", Groups: []string{"system:authenticated"}}, ua: ua("kube-proxy", "v1.30.2", "linux/amd64", "3968350"), ips: []string{ip},
			reason: rbac("ClusterRoleBinding", "system:node-proxier", "system:node-proxier", "User", "system:kube-proxy")}
		c.nodes = append(c.nodes, n)
	}
	cp := []string{"10.10.0.10"}
	c.kcm = &actor{user: User{Username: "system:kube-controller-manager", Groups: []string{"system:authenticated"}}, ua: ua("kube-controller-manager", "v1.30.2", "linux/amd64", "3968350") + "/leader-election", ips: cp,
		reason: rbac("ClusterRoleBinding", "system:kube-controller-manager", "system:kube-controller-manager", "User", "system:kube-controller-manager")}
	c.sched = &actor{user: User{Username: "system:kube-scheduler", Groups: []string{"system:authenticated"}}, ua: ua("kube-scheduler", "v1.30.2", "linux/amd64", "3968350") + "/scheduler", ips: cp,
		reason: rbac("ClusterRoleBinding", "system:kube-scheduler", "system:kube-scheduler", "User", "system:kube-scheduler")}
	c.kcmSA = g.kcmControllers(c, ua("kube-controller-manager", "v1.30.2", "linux/amd64", "3968350"))
	c.coredns = g.sa(c, "kube-system", "coredns", ua("coredns", "v0.0.0", "linux/amd64", "$Format"), "system:coredns", c.nodes[1])
	c.metrics = g.sa(c, "kube-system", "metrics-server", ua("metrics-server", "v0.7.1", "linux/amd64", "$Format"), "system:metrics-server", c.nodes[2])
	c.cni = g.sa(c, "kube-system", "cilium", ua("cilium-agent", "v1.15.5", "linux/amd64", "$Format"), "cilium", c.nodes[3])
	c.ccm = c.kcm
	c.agents = []*actor{
		g.sa(c, "cert-manager", "cert-manager", ua("cert-manager-controller", "v1.14.5", "linux/amd64", "$Format"), "cert-manager-controller-certificates", c.nodes[1]),
		g.sa(c, "argocd", "argocd-application-controller", ua("argocd-application-controller", "v0.0.0", "linux/amd64", "$Format"), "argocd-application-controller", c.nodes[2]),
	}
	c.admin = &actor{user: User{Username: "kubernetes-admin", Groups: []string{"kubeadm:cluster-admins", "system:authenticated"}}, ua: ua("kubectl", "v1.30.2", "linux/amd64", "3968350"),
		ips: []string{"10.10.0.10"}, reason: rbac("ClusterRoleBinding", "kubeadm:cluster-admins", "cluster-admin", "Group", "kubeadm:cluster-admins")}
	bob := &actor{user: User{Username: "oidc:bob@example.com", Groups: []string{"oidc:platform", "system:authenticated"}}, ua: ua("kubectl", "v1.30.0", "linux/amd64", "7c48c2b"),
		ips: []string{"10.10.8.23"}, reason: rbac("ClusterRoleBinding", "platform-admins", "cluster-admin", "Group", "oidc:platform")}
	carol := &actor{user: User{Username: "oidc:carol@example.com", Groups: []string{"oidc:interns", "system:authenticated"}}, ua: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Lens/2024.5.61 Chrome/124.0.6367.60 Electron/30.0.1 Safari/537.36",
		ips: []string{"10.10.8.57"}, reason: rbac("ClusterRoleBinding", "interns-view", "view", "Group", "oidc:interns")}
	c.humans = []*actor{c.admin, bob, carol}
	c.readers = []*actor{carol}
	c.ci = g.sa(c, "ci", "deployer", ua("kubectl", "v1.30.2", "linux/amd64", "3968350"), "", c.nodes[3])
	c.ci.reason = `RBAC: allowed by RoleBinding "deployer/lab-apps" of ClusterRole "admin" to ServiceAccount "deployer/ci"`
	c.apps = []*app{
		g.newApp(c, "lab-apps", "wiki", "docker.io/library/mediawiki:1.41", 1, 80),
		g.newApp(c, "lab-apps", "postgres", "docker.io/library/postgres:16.3", 1, 5432),
		g.newApp(c, "lab-apps", "api", "ghcr.io/example/lab-api:0.9.2", 2, 8080),
	}
	return c
}

func dash(ip string) string {
	b := []byte(ip)
	for i := range b {
		if b[i] == '.' {
			b[i] = '-'
		}
	}
	return string(b)
}

// newApp places a Deployment's pods on the cluster's non-Fargate nodes.
func (g *gen) newApp(c *cluster, ns, name, image string, replicas, port int) *app {
	a := &app{ns: ns, name: name, image: image, sa: name, replicas: replicas, uid: g.uuid(), rsUID: g.uuid(), hash: g.str(alnum, 10), port: port}
	a.created = c.created.Add(time.Duration(g.r.IntN(30*24)) * time.Hour)
	for i := 0; i < replicas; i++ {
		a.pods = append(a.pods, name+"-"+a.hash+"-"+g.str(alnum, 5))
		a.podUIDs = append(a.podUIDs, g.uuid())
		var n *node
		for n == nil || n.fargate {
			n = c.nodes[g.r.IntN(len(c.nodes))]
		}
		a.nodes = append(a.nodes, n)
	}
	return a
}
