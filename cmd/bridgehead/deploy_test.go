package main

// Tests of what deploy/ ships: the systemd unit, the container image
// definition, the Kubernetes manifests, HAProxy's config and the Grafana
// dashboard. The fail2ban filter is tested against the binary's own log
// lines in deploy_fail2ban_test.go.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"bridgehead.dev/bridgehead/autoconfig"
	"bridgehead.dev/bridgehead/gateway/testservers"
	"bridgehead.dev/bridgehead/metrics"
)

// deployDir is deploy/ seen from this package.
const deployDir = "../../deploy"

// deployRequireTool returns the path of a command, failing when CI is set and it
// is missing, else skipping.
func deployRequireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required (CI is set): %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

// unitDirectives returns the unit file's Key=Value lines, each key with
// all its values in order.
func unitDirectives(t *testing.T, data []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unit line %q is not Key=Value", line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

func TestDeploySystemdUnitHardening(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(deployDir, "bridgehead.service"))
	if err != nil {
		t.Fatal(err)
	}
	d := unitDirectives(t, data)
	for key, want := range map[string]string{
		"StateDirectory":        "bridgehead",
		"ProtectSystem":         "strict",
		"NoNewPrivileges":       "yes",
		"AmbientCapabilities":   "CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
		"ExecReload":            "/bin/kill -HUP $MAINPID",
	} {
		if got := d[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want exactly %q", key, got, want)
		}
	}
	if start := strings.Join(d["ExecStart"], " "); !strings.Contains(start, "bridgehead serve -config /etc/bridgehead/bridgehead.yaml") {
		t.Errorf("ExecStart=%q", start)
	}
}

// TestDeploySystemdVerify runs systemd-analyze verify on the unit, with the
// binary path pointed at a real bridgehead (verify checks it is
// executable); any warning fails.
func TestDeploySystemdVerify(t *testing.T) {
	t.Parallel()
	analyze := deployRequireTool(t, "systemd-analyze")
	data, err := os.ReadFile(filepath.Join(deployDir, "bridgehead.service"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	unit := filepath.Join(dir, "bridgehead.service")
	data = bytes.ReplaceAll(data, []byte("/usr/local/bin/bridgehead"), []byte(bridgeheadBin(t)))
	if err := os.WriteFile(unit, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestDeployContainerfile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(deployDir, "container", "Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^FROM \S*golang\S* AS build$`),
		regexp.MustCompile(`(?m)CGO_ENABLED=0 .*go build .*\./cmd/bridgehead`),
		regexp.MustCompile(`(?m)^FROM (\S*distroless/static\S*|scratch)$`),
		regexp.MustCompile(`(?m)^USER [1-9][0-9]*(:[1-9][0-9]*)?$`),
		regexp.MustCompile(`(?m)^VOLUME /var/lib/bridgehead$`),
		regexp.MustCompile(`(?m)^EXPOSE 25 587 465 8025$`),
	} {
		if !want.MatchString(s) {
			t.Errorf("Containerfile: no line matching %s", want)
		}
	}
	if strings.Count(s, "\nFROM ") < 2 {
		t.Error("Containerfile is not multi-stage")
	}
}

// k8sObject is the part of a Kubernetes object the tests read.
type k8sObject struct {
	Kind     string                `yaml:"kind"`
	Metadata struct{ Name string } `yaml:"metadata"`
	Data     map[string]string     `yaml:"data"`
	Spec     yaml.Node             `yaml:"spec"`
}

// k8sObjects reads every document of every YAML file in deploy/kubernetes.
func k8sObjects(t *testing.T) []k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var objs []k8sObject
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "" {
				t.Errorf("%s: a document without kind", f)
			}
			objs = append(objs, o)
		}
	}
	return objs
}

func TestDeployKubernetes(t *testing.T) {
	t.Parallel()
	objs := k8sObjects(t)
	byKind := map[string][]k8sObject{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	for _, k := range []string{"StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "Kustomization"} {
		if len(byKind[k]) == 0 {
			t.Errorf("no %s", k)
		}
	}

	// The ConfigMap's config loads with the project's own loader.
	var cfg *Config
	for _, cm := range byKind["ConfigMap"] {
		text, ok := cm.Data["bridgehead.yaml"]
		if !ok {
			continue
		}
		c, err := ParseConfig("configmap:bridgehead.yaml", []byte(text))
		if err != nil {
			t.Fatalf("ConfigMap %s: bridgehead.yaml: %v", cm.Metadata.Name, err)
		}
		cfg = c
	}
	if cfg == nil {
		t.Fatal("no ConfigMap with bridgehead.yaml")
	}
	_, adminPort := deploySplitPort(t, cfg.Admin.Address)

	var sts struct {
		Template struct {
			Spec struct {
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				Containers                    []struct {
					Args  []string `yaml:"args"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
					ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
					VolumeMounts   []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata struct{ Name string } `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
	}
	if len(byKind["StatefulSet"]) != 1 {
		t.Fatalf("%d StatefulSets", len(byKind["StatefulSet"]))
	}
	if err := byKind["StatefulSet"][0].Spec.Decode(&sts); err != nil {
		t.Fatal(err)
	}
	spec := sts.Template.Spec
	if spec.TerminationGracePeriodSeconds < 60 {
		t.Errorf("terminationGracePeriodSeconds %d: too short to drain sessions (30s) and the queue", spec.TerminationGracePeriodSeconds)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers", len(spec.Containers))
	}
	c := spec.Containers[0]
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	probePort := func(p *k8sProbe) int {
		if n, ok := ports[p.HTTPGet.Port]; ok {
			return n
		}
		var n int
		_ = yaml.Unmarshal([]byte(p.HTTPGet.Port), &n)
		return n
	}
	for name, pr := range map[string]*k8sProbe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		switch {
		case pr == nil || pr.HTTPGet == nil:
			t.Errorf("no httpGet probe for %s", name)
		case pr.HTTPGet.Path != name:
			t.Errorf("probe path %q, want %s", pr.HTTPGet.Path, name)
		case probePort(pr) != adminPort:
			t.Errorf("%s probe on port %q, the admin API is on %d", name, pr.HTTPGet.Port, adminPort)
		}
	}
	// Every listener's port is a container port.
	for _, l := range cfg.Listeners {
		_, lp := deploySplitPort(t, l.Address)
		found := false
		for _, p := range ports {
			found = found || p == lp
		}
		if !found {
			t.Errorf("listener %s (port %d) has no containerPort", l.Name, lp)
		}
	}
	// state_dir is on the per-replica volume.
	stateMounted := false
	for _, m := range c.VolumeMounts {
		for _, v := range sts.VolumeClaimTemplates {
			stateMounted = stateMounted || (m.Name == v.Metadata.Name && m.MountPath == cfg.StateDir)
		}
	}
	if !stateMounted {
		t.Errorf("state_dir %s is not mounted from a volumeClaimTemplate", cfg.StateDir)
	}
	if !slices.Contains(c.Args, "serve") {
		t.Errorf("container args %q do not serve", c.Args)
	}

	// The admin Service is ClusterIP; the SMTP ports are served.
	var smtpPorts []int
	for _, svc := range byKind["Service"] {
		var s struct {
			Type  string `yaml:"type"`
			Ports []struct {
				Port int `yaml:"port"`
			} `yaml:"ports"`
		}
		if err := svc.Spec.Decode(&s); err != nil {
			t.Fatal(err)
		}
		for _, p := range s.Ports {
			if p.Port == adminPort && s.Type != "" && s.Type != "ClusterIP" {
				t.Errorf("Service %s exposes the admin port as %s", svc.Metadata.Name, s.Type)
			}
			smtpPorts = append(smtpPorts, p.Port)
		}
	}
	for _, want := range []int{25, 587, 465, adminPort} {
		if !slices.Contains(smtpPorts, want) {
			t.Errorf("no Service port %d", want)
		}
	}
}

// k8sProbe is a container probe.
type k8sProbe struct {
	HTTPGet *struct {
		Path   string `yaml:"path"`
		Port   string `yaml:"port"`
		Scheme string `yaml:"scheme"`
	} `yaml:"httpGet"`
}

// deploySplitPort returns host and port of a host:port.
func deploySplitPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var n int
	if i < 0 {
		t.Fatalf("%q: no port", addr)
	}
	if err := yaml.Unmarshal([]byte(addr[i+1:]), &n); err != nil {
		t.Fatalf("%q: %v", addr, err)
	}
	return addr[:i], n
}

// deployMetrics are the metric names bridgehead exports; histograms add
// _bucket, _sum and _count series.
var deployMetrics = map[string]bool{
	"bridgehead_connections_total":             false,
	"bridgehead_sessions_active":               false,
	"bridgehead_tls_handshakes_total":          false,
	"bridgehead_auth_total":                    false,
	"bridgehead_messages_accepted_total":       false,
	"bridgehead_messages_refused_total":        false,
	"bridgehead_message_size_bytes":            true,
	"bridgehead_queue_messages":                false,
	"bridgehead_queue_oldest_age_seconds":      false,
	"bridgehead_delivery_attempts_total":       false,
	"bridgehead_delivery_duration_seconds":     true,
	"bridgehead_directory_cache_total":         false,
	"bridgehead_ldap_request_duration_seconds": true,
	"bridgehead_reports_sent_total":            false,
	"bridgehead_throttled_total":               false,
}

func TestDeployGrafana(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(deployDir, "grafana", "bridgehead.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	metricRE := regexp.MustCompile(`\bbridgehead_[a-z0-9_]+`)
	used := map[string]bool{}
	check := func(where, expr string) {
		for _, m := range metricRE.FindAllString(expr, -1) {
			base := m
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(m, suf); ok && deployMetrics[b] {
					base = b
				}
			}
			if _, ok := deployMetrics[base]; !ok {
				t.Errorf("%s: %s is not an exported metric", where, m)
			}
			if deployMetrics[base] && base == m {
				t.Errorf("%s: histogram %s used without _bucket/_sum/_count", where, m)
			}
			used[base] = true
		}
	}
	// Label values matched must be ones the metrics package records.
	known := []string{metrics.AuthSuccess, metrics.AuthFailure, metrics.AuthThrottled, metrics.AuthError,
		metrics.DeliveryDelivered, metrics.DeliveryDeferred, metrics.DeliveryFailed, "hit", "miss"}
	resultRE := regexp.MustCompile(`\bresult=~?"([^"]*)"`)
	exprs := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range resultRE.FindAllStringSubmatch(tg.Expr, -1) {
				for _, v := range strings.Split(m[1], "|") {
					if !slices.Contains(known, v) {
						t.Errorf("panel %s: result %q is never recorded", p.Title, v)
					}
				}
			}
		}
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs++
			check("panel "+p.Title, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		check("variable", v.Definition)
	}
	if exprs == 0 {
		t.Fatal("dashboard without queries")
	}
	for m := range deployMetrics {
		if !used[m] {
			t.Errorf("metric %s is on no panel", m)
		}
	}
}

func TestDeployHAProxy(t *testing.T) {
	t.Parallel()
	cfgPath := filepath.Join(deployDir, "haproxy", "haproxy.cfg")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	servers, backends, backend := 0, map[string]int{}, ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "backend":
			backend = f[1]
			backends[backend] = 0
		case "frontend", "defaults", "global", "listen":
			backend = ""
		case "server":
			servers++
			backends[backend]++
			if !slices.Contains(f, "send-proxy-v2") {
				t.Errorf("server line without send-proxy-v2: %s", strings.TrimSpace(line))
			}
		}
	}
	if servers == 0 || len(backends) < 3 {
		t.Errorf("%d servers in %d backends", servers, len(backends))
	}
	for b, n := range backends {
		if n < 2 {
			t.Errorf("backend %s has %d servers, want several replicas", b, n)
		}
	}
	for _, port := range []string{":25", ":587", ":465"} {
		if !regexp.MustCompile(`(?m)^\s*bind\s+\S*` + port + `\b`).Match(data) {
			t.Errorf("no frontend binds %s", port)
		}
	}
	if !regexp.MustCompile(`(?m)^\s*mode\s+tcp\b`).Match(data) {
		t.Error("not in TCP mode")
	}
	if haproxy := testservers.Binary(t, "haproxy"); haproxy != "" {
		if out, err := exec.Command(haproxy, "-c", "-f", cfgPath).CombinedOutput(); err != nil {
			t.Errorf("haproxy -c: %v\n%s", err, out)
		}
	}
}

// TestDeployExampleTrustsProxy checks that the listener snippet haproxy.cfg
// tells admins to add is a valid config.
func TestDeployExampleTrustsProxy(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(deployDir, "haproxy", "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	var snippet []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		body, isComment := strings.CutPrefix(line, "#   ")
		switch {
		case isComment && strings.HasPrefix(body, "listeners:"):
			in = true
		case !isComment:
			in = false
		}
		if in {
			body, _, _ = strings.Cut(body, " #")
			snippet = append(snippet, body)
		}
	}
	if len(snippet) == 0 {
		t.Fatal("haproxy.cfg has no listeners: snippet")
	}
	frag := completeFragment([]byte(strings.Join(snippet, "\n") + "\n"))
	cfg, err := ParseConfig("haproxy.cfg", frag)
	if err != nil {
		t.Fatalf("%v\n%s", err, frag)
	}
	if len(cfg.Listeners) == 0 || len(cfg.Listeners[0].ProxyProtocol.Trusted) == 0 {
		t.Errorf("snippet sets no proxy_protocol.trusted:\n%s", frag)
	}
}

// TestExamplesDirectorySites loads the Active Directory and OpenLDAP
// examples and checks they are what their names say, with an autoconfig
// block the handler accepts.
func TestExamplesDirectorySites(t *testing.T) {
	t.Parallel()
	for file, schema := range map[string]string{"activedirectory.yaml": "activedirectory", "openldap.yaml": "openldap"} {
		cfg, err := LoadConfig(filepath.Join(deployDir, "examples", file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if cfg.Directory.LDAP == nil || cfg.Directory.LDAP.Schema != schema {
			t.Errorf("%s: directory is not LDAP with schema %s", file, schema)
		}
		if cfg.Autoconfig.Address == "" {
			t.Errorf("%s: no autoconfig", file)
			continue
		}
		if _, err := autoconfig.New(cfg.autoconfigOptions()); err != nil {
			t.Errorf("%s: autoconfig: %v", file, err)
		}
	}
}

// describedNames records the metric names of every collector registered.
type describedNames map[string]bool

func (d describedNames) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for desc := range ch {
		if m := fq.FindStringSubmatch(desc.String()); m != nil {
			d[m[1]] = true
		}
	}
	return nil
}

func (d describedNames) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c)
	}
}

func (d describedNames) Unregister(prometheus.Collector) bool { return false }

// TestDeployMetricNames keeps the dashboard's list of metrics equal to what
// the metrics package registers.
func TestDeployMetricNames(t *testing.T) {
	t.Parallel()
	names := describedNames{}
	if _, err := metrics.New(names); err != nil {
		t.Fatal(err)
	}
	for n := range names {
		if _, ok := deployMetrics[n]; !ok {
			t.Errorf("metric %s is registered but not on the dashboard's list", n)
		}
	}
	for n := range deployMetrics {
		if !names[n] {
			t.Errorf("metric %s is on the dashboard's list but not registered", n)
		}
	}
}
