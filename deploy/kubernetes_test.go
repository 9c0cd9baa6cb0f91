package deploy

import (
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/promslog"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/internal/testutil"
)

// kubeDir holds the Kubernetes manifests (docs/scale-out.md).
const kubeDir = "kubernetes"

// kustomization is the part of a kustomize Kustomization the manifests
// use; decoding it strictly refuses any other key.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// decodeStrict decodes the manifest at name (under kubeDir) into v with
// sigs.k8s.io/yaml, refusing unknown fields and a kind or apiVersion other
// than want's.
func decodeStrict(t *testing.T, name string, v any, apiVersion, kind string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(kubeDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(data, &tm); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if tm.APIVersion != apiVersion || tm.Kind != kind {
		t.Fatalf("%s: %s %s, want %s %s", name, tm.APIVersion, tm.Kind, apiVersion, kind)
	}
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("%s: strict decoding into %T: %v", name, v, err)
	}
}

// flagValue returns the value of --name in args (--name=v or --name v).
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// TestKubernetesManifests decodes every manifest of deploy/kubernetes
// strictly into the official API types (k8s.io/api; the ServiceMonitor
// into prometheus-operator's) and checks each field benchd reads from them
// against what benchd expects: the ConfigMap's config at --config.file
// (and that it loads, with URL targets only), the volume of each pod at
// --storage.path, the shard count beside replicas and each pod's hostname
// giving its ordinal as benchd reads it, the readiness probe on /healthz
// at the port of --web.listen-address, and the selectors of the Service,
// the PodDisruptionBudget and the ServiceMonitor.
func TestKubernetesManifests(t *testing.T) {
	var top, kust kustomization
	decodeStrict(t, "kustomization.yaml", &top, "kustomize.config.k8s.io/v1beta1", "Kustomization")
	if !slices.Equal(top.Resources, []string{"base"}) || len(top.Images) != 0 {
		t.Errorf("kustomization.yaml resources %v images %v, want [base] (the image is set in base/)", top.Resources, top.Images)
	}
	decodeStrict(t, "base/kustomization.yaml", &kust, "kustomize.config.k8s.io/v1beta1", "Kustomization")
	var (
		cm  corev1.ConfigMap
		sts appsv1.StatefulSet
		svc corev1.Service
		pdb policyv1.PodDisruptionBudget
		sm  monitoringv1.ServiceMonitor
	)
	files := map[string]struct {
		v                any
		apiVersion, kind string
	}{
		"base/configmap.yaml":   {&cm, "v1", "ConfigMap"},
		"base/statefulset.yaml": {&sts, "apps/v1", "StatefulSet"},
		"base/service.yaml":     {&svc, "v1", "Service"},
		"base/pdb.yaml":         {&pdb, "policy/v1", "PodDisruptionBudget"},
	}
	for name, f := range files {
		decodeStrict(t, name, f.v, f.apiVersion, f.kind)
	}
	// base/'s kustomization lists exactly the Kubernetes objects there.
	entries, err := os.ReadDir(filepath.Join(kubeDir, "base"))
	if err != nil {
		t.Fatal(err)
	}
	var objects []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") && e.Name() != "kustomization.yaml" {
			objects = append(objects, "base/"+e.Name())
		}
	}
	var listed []string
	for _, r := range slices.Sorted(slices.Values(kust.Resources)) {
		listed = append(listed, "base/"+r)
	}
	if !slices.Equal(listed, objects) {
		t.Errorf("base/kustomization.yaml resources %v, want the manifests %v", listed, objects)
	}
	// prometheus-operator's overlay: those and a ServiceMonitor, so that
	// a cluster without its CRD applies the base alone.
	decodeStrict(t, "prometheus-operator/servicemonitor.yaml", &sm, "monitoring.coreos.com/v1", "ServiceMonitor")
	var overlay kustomization
	decodeStrict(t, "prometheus-operator/kustomization.yaml", &overlay, "kustomize.config.k8s.io/v1beta1", "Kustomization")
	if want := []string{"../base", "servicemonitor.yaml"}; !slices.Equal(overlay.Resources, want) || len(overlay.Images) != 0 {
		t.Errorf("prometheus-operator/kustomization.yaml resources %v images %v, want %v and the base's images", overlay.Resources, overlay.Images, want)
	}
	if len(objects) != len(files) {
		t.Errorf("%d manifests %v, %d decoded by this test", len(objects), objects, len(files))
	}

	podLabels := sts.Spec.Template.Labels
	pod := sts.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("statefulset.yaml: %d containers, want benchd alone", len(pod.Containers))
	}
	c := pod.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("statefulset.yaml: args %q, want benchd serve", c.Args)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}

	t.Run("selectors", func(t *testing.T) {
		sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
		if err != nil || sel.Empty() {
			t.Fatalf("statefulset.yaml: selector %v: %v", sts.Spec.Selector, err)
		}
		matches := func(what string, s *metav1.LabelSelector, labels map[string]string) {
			t.Helper()
			sel, err := metav1.LabelSelectorAsSelector(s)
			if err != nil || sel.Empty() || !sel.Matches(k8slabels.Set(labels)) {
				t.Errorf("%s: selector %v does not select %v (%v)", what, s, labels, err)
			}
		}
		matches("statefulset.yaml spec.selector", sts.Spec.Selector, podLabels)
		matches("pdb.yaml", pdb.Spec.Selector, podLabels)
		matches("service.yaml", &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, podLabels)
		matches("servicemonitor.yaml", &sm.Spec.Selector, svc.Labels)
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
			t.Errorf("pdb.yaml: maxUnavailable %v, want 1 (one shard down at a time)", pdb.Spec.MaxUnavailable)
		}
		aa := pod.Affinity
		if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
			t.Fatalf("statefulset.yaml: no pod anti-affinity")
		}
		term := aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
		if term.TopologyKey != corev1.LabelHostname {
			t.Errorf("statefulset.yaml: anti-affinity topologyKey %q, want %q", term.TopologyKey, corev1.LabelHostname)
		}
		matches("statefulset.yaml anti-affinity", term.LabelSelector, podLabels)
	})

	t.Run("config", func(t *testing.T) {
		file, ok := flagValue(c.Args, "config.file")
		if !ok {
			t.Fatalf("statefulset.yaml: no --config.file in %q", c.Args)
		}
		var vol *corev1.Volume
		for i := range pod.Volumes {
			if pod.Volumes[i].ConfigMap != nil {
				vol = &pod.Volumes[i]
			}
		}
		if vol == nil || vol.ConfigMap.Name != cm.Name {
			t.Fatalf("statefulset.yaml: no volume of ConfigMap %q", cm.Name)
		}
		m, ok := mounts[vol.Name]
		if !ok || path.Dir(file) != path.Clean(m.MountPath) {
			t.Fatalf("--config.file %s is not in the ConfigMap volume's mount %q", file, m.MountPath)
		}
		doc, ok := cm.Data[path.Base(file)]
		if !ok {
			t.Fatalf("configmap.yaml: no key %q (--config.file %s)", path.Base(file), file)
		}
		cfg, err := config.Parse([]byte(doc), path.Dir(file))
		if err != nil {
			t.Fatalf("configmap.yaml %s: %v", path.Base(file), err)
		}
		for _, tg := range cfg.Targets {
			if tg.Process != nil {
				t.Errorf("configmap.yaml: target %s is managed (process:): in Kubernetes targets are Services, reached by URL", tg.Name)
			}
		}
		if cfg.Shards.Count != 0 {
			t.Errorf("configmap.yaml: shards.count %d: the count is BENCHD_SHARD_COUNT beside replicas, in one place", cfg.Shards.Count)
		}
	})

	t.Run("storage", func(t *testing.T) {
		dir, ok := flagValue(c.Args, "storage.path")
		if !ok {
			t.Fatalf("statefulset.yaml: no --storage.path in %q", c.Args)
		}
		if len(sts.Spec.VolumeClaimTemplates) != 1 {
			t.Fatalf("statefulset.yaml: %d volumeClaimTemplates, want one PVC per pod", len(sts.Spec.VolumeClaimTemplates))
		}
		claim := sts.Spec.VolumeClaimTemplates[0]
		m, ok := mounts[claim.Name]
		if !ok || path.Clean(m.MountPath) != path.Clean(dir) || m.ReadOnly {
			t.Errorf("--storage.path %s is not the claim %q's writable mount (%+v)", dir, claim.Name, m)
		}
		if !slices.Equal(claim.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
			t.Errorf("statefulset.yaml: claim access modes %v, want ReadWriteOnce (one history per shard)", claim.Spec.AccessModes)
		}
		if q := claim.Spec.Resources.Requests[corev1.ResourceStorage]; q.IsZero() {
			t.Errorf("statefulset.yaml: the claim requests no storage")
		}
	})

	t.Run("shards", func(t *testing.T) {
		if sts.Spec.Replicas == nil || *sts.Spec.Replicas < 1 {
			t.Fatalf("statefulset.yaml: replicas %v", sts.Spec.Replicas)
		}
		replicas := int(*sts.Spec.Replicas)
		count := ""
		for _, e := range c.Env {
			switch e.Name {
			case "BENCHD_SHARD_COUNT":
				count = e.Value
			case "BENCHD_SHARD_INDEX":
				t.Errorf("statefulset.yaml: BENCHD_SHARD_INDEX set for every pod: each pod's index is its hostname's ordinal")
			}
		}
		if count != strconv.Itoa(replicas) {
			t.Errorf("statefulset.yaml: BENCHD_SHARD_COUNT %q, want replicas, %d", count, replicas)
		}
		if _, ok := flagValue(c.Args, "shard.index"); ok {
			t.Errorf("statefulset.yaml: --shard.index in the pod template: every pod would be the same shard")
		}
		// Kubernetes names pod i of StatefulSet NAME "NAME-i" and makes
		// that its hostname unless the template sets hostname.
		if pod.Hostname != "" || (pod.Subdomain != "" && pod.Subdomain != sts.Spec.ServiceName) {
			t.Errorf("statefulset.yaml: hostname %q, subdomain %q: the pod's hostname must stay its name", pod.Hostname, pod.Subdomain)
		}
		if sts.Spec.ServiceName != svc.Name || svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("statefulset.yaml serviceName %q, service.yaml %q with clusterIP %q: want the headless Service", sts.Spec.ServiceName, svc.Name, svc.Spec.ClusterIP)
		}
		owners := map[string]int{}
		for i := range replicas {
			cfg := &config.Config{}
			host := sts.Name + "-" + strconv.Itoa(i)
			n, _ := strconv.Atoi(count)
			if err := cfg.ApplyShard(config.ShardSource{Index: -1, Count: n, Hostname: host}); err != nil {
				t.Fatalf("pod %s: %v", host, err)
			}
			if cfg.ShardIndex != i {
				t.Errorf("pod %s: shard %d, want %d", host, cfg.ShardIndex, i)
			}
			owners[strconv.Itoa(cfg.ShardIndex)]++
		}
		if len(owners) != replicas {
			t.Errorf("the pods take the shard indexes %v, want %d distinct", owners, replicas)
		}
	})

	t.Run("web", func(t *testing.T) {
		addr, ok := flagValue(c.Args, "web.listen-address")
		if !ok {
			t.Fatalf("statefulset.yaml: no --web.listen-address (the default listens on loopback only)")
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("--web.listen-address %q: %v", addr, err)
		}
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			t.Errorf("--web.listen-address %q listens on loopback: the kubelet and Prometheus cannot reach it", addr)
		}
		var containerPort *corev1.ContainerPort
		for i := range c.Ports {
			if strconv.Itoa(int(c.Ports[i].ContainerPort)) == port {
				containerPort = &c.Ports[i]
			}
		}
		if containerPort == nil {
			t.Fatalf("no container port %s (--web.listen-address %s)", port, addr)
		}
		resolves := func(what string, p intstr.IntOrString) {
			t.Helper()
			if p.String() != containerPort.Name && p.IntValue() != int(containerPort.ContainerPort) {
				t.Errorf("%s: port %s, want %s or %d (--web.listen-address %s)", what, p.String(), containerPort.Name, containerPort.ContainerPort, addr)
			}
		}
		probe := c.ReadinessProbe
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != "/healthz" {
			t.Fatalf("statefulset.yaml: readiness probe %+v, want GET /healthz", probe)
		}
		resolves("readiness probe", probe.HTTPGet.Port)
		if len(svc.Spec.Ports) != 1 {
			t.Fatalf("service.yaml: ports %+v, want benchd's one", svc.Spec.Ports)
		}
		svcPort := &svc.Spec.Ports[0]
		resolves("service.yaml targetPort", svcPort.TargetPort)
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svcPort.Name || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("servicemonitor.yaml endpoints %+v, want port %q path /metrics", sm.Spec.Endpoints, svcPort.Name)
		}
		// The rules select job="benchd": the Service label jobLabel names.
		if job := svc.Labels[sm.Spec.JobLabel]; job != "benchd" {
			t.Errorf("servicemonitor.yaml jobLabel %q gives job %q, want benchd (the rules' up{job=\"benchd\"})", sm.Spec.JobLabel, job)
		}
	})

	t.Run("resources", func(t *testing.T) {
		r := c.Resources
		cpu, mem := r.Requests[corev1.ResourceCPU], r.Requests[corev1.ResourceMemory]
		limit := r.Limits[corev1.ResourceCPU]
		if cpu.IsZero() || mem.IsZero() || limit.IsZero() {
			t.Fatalf("statefulset.yaml: resources %+v, want cpu and memory requests and a CPU limit", r)
		}
		// Whole cores, requested as limited: the static CPU manager then
		// gives benchd cores of its own.
		if cpu.Cmp(limit) != 0 || cpu.MilliValue()%1000 != 0 {
			t.Errorf("statefulset.yaml: cpu request %s, limit %s: want equal whole cores", cpu.String(), limit.String())
		}
	})

	// The strictness can fail: a misspelt key is refused.
	t.Run("strict", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(kubeDir, "base", "statefulset.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		bad := strings.Replace(string(data), "\n  replicas:", "\n  replica:", 1)
		if bad == string(data) {
			t.Fatal("statefulset.yaml: no spec.replicas")
		}
		var s appsv1.StatefulSet
		if err := yaml.UnmarshalStrict([]byte(bad), &s); err == nil {
			t.Error("spec.replica (misspelt) decoded without error")
		}
	})
}

// TestKubernetesScrapeJob loads deploy/kubernetes/prometheus-scrape.yml
// with Prometheus's own configuration loader (what promtool check config
// runs; Debian's promtool is built without the Kubernetes discovery and
// refuses kubernetes_sd_configs), with its Kubernetes discovery, and runs
// the job's relabelling on the discovery labels of statefulset.yaml's pod
// 2: it is kept under job benchd with its pod name, while a pod of another
// app, or another port of benchd's, is dropped.
func TestKubernetesScrapeJob(t *testing.T) {
	file := filepath.Join(kubeDir, "prometheus-scrape.yml")
	cfg, err := promconfig.LoadFile(file, false, promslog.NewNopLogger())
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var sts appsv1.StatefulSet
	decodeStrict(t, "base/statefulset.yaml", &sts, "apps/v1", "StatefulSet")
	if len(cfg.ScrapeConfigs) != 1 || cfg.ScrapeConfigs[0].JobName != "benchd" {
		t.Fatalf("%s: want one job named benchd (the rules' up{job=\"benchd\"})", file)
	}
	job := cfg.ScrapeConfigs[0]
	if sd := job.ServiceDiscoveryConfigs; len(sd) != 1 {
		t.Errorf("%s: %d service discoveries, want kubernetes_sd_configs alone", file, len(sd))
	} else if k, ok := sd[0].(*kubernetes.SDConfig); !ok || k.Role != kubernetes.RolePod {
		t.Errorf("%s: service discovery %#v, want kubernetes_sd_configs of role pod", file, sd[0])
	}
	if len(sts.Spec.Template.Spec.Containers) == 0 || len(sts.Spec.Template.Spec.Containers[0].Ports) == 0 {
		t.Fatal("statefulset.yaml: benchd's container has no port")
	}
	app := sts.Spec.Template.Labels["app.kubernetes.io/name"]
	port := sts.Spec.Template.Spec.Containers[0].Ports[0]
	pod := sts.Name + "-2"
	meta := func(app, portName string) map[string]string {
		return map[string]string{
			"__address__":                                        net.JoinHostPort("10.0.0.2", strconv.Itoa(int(port.ContainerPort))),
			"__meta_kubernetes_namespace":                        "benchd",
			"__meta_kubernetes_pod_name":                         pod,
			"__meta_kubernetes_pod_label_app_kubernetes_io_name": app,
			"__meta_kubernetes_pod_container_port_name":          portName,
		}
	}
	tests := []struct {
		name      string
		labels    map[string]string
		wantKept  bool
		wantLabel map[string]string
	}{
		{"benchd's pod", meta(app, port.Name), true, map[string]string{"pod": pod, "namespace": "benchd"}},
		{"another app's pod", meta("nginx", port.Name), false, nil},
		{"another port of benchd's", meta(app, port.Name+"-other"), false, nil},
	}
	for _, tt := range tests {
		lb := labels.NewBuilder(labels.FromMap(tt.labels))
		if kept := relabel.ProcessBuilder(lb, job.RelabelConfigs...); kept != tt.wantKept {
			t.Errorf("%s (%v): kept %v, want %v", tt.name, tt.labels, kept, tt.wantKept)
			continue
		}
		for k, v := range tt.wantLabel {
			if got := lb.Get(k); got != v {
				t.Errorf("%s: label %s = %q, want %q", tt.name, k, got, v)
			}
		}
	}
}

// TestBinaryWithoutKubernetes checks that the API types the manifest tests
// decode into stay out of the benchd binary: they are test imports only.
func TestBinaryWithoutKubernetes(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), testutil.GoTool(t), "list", "-deps", "../cmd/benchd").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/benchd: %v\n%s", err, out)
	}
	for pkg := range strings.FieldsSeq(string(out)) {
		for _, heavy := range []string{"k8s.io/", "sigs.k8s.io/", "github.com/prometheus-operator/", "github.com/prometheus/prometheus/"} {
			if strings.HasPrefix(pkg, heavy) {
				t.Errorf("benchd imports %s", pkg)
			}
		}
	}
}
