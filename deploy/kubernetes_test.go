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
	var kust kustomization
	decodeStrict(t, "kustomization.yaml", &kust, "kustomize.config.k8s.io/v1beta1", "Kustomization")
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
		"configmap.yaml":      {&cm, "v1", "ConfigMap"},
		"statefulset.yaml":    {&sts, "apps/v1", "StatefulSet"},
		"service.yaml":        {&svc, "v1", "Service"},
		"pdb.yaml":            {&pdb, "policy/v1", "PodDisruptionBudget"},
		"servicemonitor.yaml": {&sm, "monitoring.coreos.com/v1", "ServiceMonitor"},
	}
	for name, f := range files {
		decodeStrict(t, name, f.v, f.apiVersion, f.kind)
	}
	// The kustomization lists exactly the Kubernetes objects.
	entries, err := os.ReadDir(kubeDir)
	if err != nil {
		t.Fatal(err)
	}
	var objects []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") && e.Name() != "kustomization.yaml" {
			objects = append(objects, e.Name())
		}
	}
	listed := slices.Sorted(slices.Values(kust.Resources))
	if !slices.Equal(listed, objects) {
		t.Errorf("kustomization.yaml resources %v, want the manifests %v", listed, objects)
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
		data, err := os.ReadFile(filepath.Join(kubeDir, "statefulset.yaml"))
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

// TestKubernetesScrapeJob checks deploy/kubernetes/prometheus-scrape.yml
// with promtool check config, and that it keeps benchd's pods by the label
// and port name of statefulset.yaml, under job benchd.
func TestKubernetesScrapeJob(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing: apt-get install -y prometheus (or run scripts/setup.sh)")
	}
	file := filepath.Join(kubeDir, "prometheus-scrape.yml")
	if out, err := exec.CommandContext(t.Context(), promtool, "check", "config", "--syntax-only", file).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config %s: %v\n%s", file, err, out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ScrapeConfigs []struct {
			JobName             string `json:"job_name"`
			KubernetesSDConfigs []struct {
				Role string `json:"role"`
			} `json:"kubernetes_sd_configs"`
			RelabelConfigs []struct {
				SourceLabels []string `json:"source_labels"`
				Regex        string   `json:"regex"`
				Action       string   `json:"action"`
			} `json:"relabel_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var sts appsv1.StatefulSet
	decodeStrict(t, "statefulset.yaml", &sts, "apps/v1", "StatefulSet")
	if len(doc.ScrapeConfigs) != 1 || doc.ScrapeConfigs[0].JobName != "benchd" {
		t.Fatalf("%s: want one job named benchd (the rules' up{job=\"benchd\"})", file)
	}
	job := doc.ScrapeConfigs[0]
	if len(job.KubernetesSDConfigs) != 1 || job.KubernetesSDConfigs[0].Role != "pod" {
		t.Errorf("%s: kubernetes_sd_configs %+v, want role pod", file, job.KubernetesSDConfigs)
	}
	keep := map[string]string{}
	for _, r := range job.RelabelConfigs {
		if r.Action == "keep" && len(r.SourceLabels) == 1 {
			keep[r.SourceLabels[0]] = r.Regex
		}
	}
	if got := keep["__meta_kubernetes_pod_label_app_kubernetes_io_name"]; got != sts.Spec.Template.Labels["app.kubernetes.io/name"] {
		t.Errorf("%s keeps pods labelled app.kubernetes.io/name=%q, statefulset.yaml's are %q", file, got, sts.Spec.Template.Labels["app.kubernetes.io/name"])
	}
	if got := keep["__meta_kubernetes_pod_container_port_name"]; len(sts.Spec.Template.Spec.Containers) == 0 ||
		!slices.ContainsFunc(sts.Spec.Template.Spec.Containers[0].Ports, func(p corev1.ContainerPort) bool { return p.Name == got }) {
		t.Errorf("%s keeps the port named %q, which benchd's container does not have", file, got)
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
		for _, heavy := range []string{"k8s.io/", "sigs.k8s.io/", "github.com/prometheus-operator/"} {
			if strings.HasPrefix(pkg, heavy) {
				t.Errorf("benchd imports %s", pkg)
			}
		}
	}
}
