package engine

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestMaskJSON checks that every value at or under a sensitive path is masked,
// and that the rest (and the key order, and env secret references) is kept.
func TestMaskJSON(t *testing.T) {
	a := NewApp("/a")
	a.Cmd = "run --pw=s3cret"
	a.Args = nil
	a.Env = map[string]string{"DB_PASSWORD": "s3cret", "LOG": "info"}
	a.EnvSecrets = map[string]string{"TOKEN": "tok"}
	a.Labels = map[string]string{"com.example/token": "s3cret", "team": "x"}
	a.HealthChecks = []HealthCheck{DefaultHealthCheck()}
	a.HealthChecks[0].Path = "/health?token=s3cret"
	a.Sensitive = []string{"cmd", "env.DB_PASSWORD", `labels["com.example/token"]`, "healthChecks[0].path"}
	a.ApplyDefaults()
	doc, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	out, err := MaskJSON(a, doc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret") {
		t.Errorf("a sensitive value is left:\n%s", out)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("masked JSON does not decode: %v\n%s", err, out)
	}
	env := got["env"].(map[string]any)
	labels := got["labels"].(map[string]any)
	hc := got["healthChecks"].([]any)[0].(map[string]any)
	for name, c := range map[string]struct{ got, want any }{
		"cmd":          {got["cmd"], SensitiveValue},
		"env secret":   {env["TOKEN"].(map[string]any)["secret"], "tok"},
		"env password": {env["DB_PASSWORD"], SensitiveValue},
		"env plain":    {env["LOG"], "info"},
		"label":        {labels["com.example/token"], SensitiveValue},
		"other label":  {labels["team"], "x"},
		"check path":   {hc["path"], SensitiveValue},
		"check proto":  {hc["protocol"], a.HealthChecks[0].Protocol},
		"instances":    {got["instances"], float64(1)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	if strings.Index(string(out), `"id"`) > strings.Index(string(out), `"cmd"`) {
		t.Errorf("key order changed:\n%s", out)
	}
	// Nothing sensitive: the document itself.
	b := NewApp("/b")
	b.Cmd = "x"
	doc, _ = json.Marshal(b)
	if out, err := MaskJSON(b, doc); err != nil || string(out) != string(doc) {
		t.Errorf("plain app changed: %s, %v", out, err)
	}
}

// TestKeepIgnoredCarriesSensitivity: a field kept as deployed keeps the
// deployed sensitivity, not the files'.
func TestKeepIgnoredCarriesSensitivity(t *testing.T) {
	deployed := NewApp("/a")
	deployed.Labels = map[string]string{"owner": "s3cret"}
	deployed.Sensitive = []string{"labels.owner"}
	desired := NewApp("/a")
	desired.Cmd = "run --pw=x"
	desired.Labels = map[string]string{"owner": "plain", "team": "t"}
	desired.Sensitive = []string{"cmd", "labels.team"}
	desired.Lifecycle = &Lifecycle{IgnoreChanges: []string{"labels"}}
	got := KeepIgnored(desired, deployed)
	if got.Labels["owner"] != "s3cret" || !got.IsSensitive("labels.owner") || got.IsSensitive("labels.team") || !got.IsSensitive("cmd") {
		t.Errorf("kept labels %v, sensitive %q", got.Labels, got.Sensitive)
	}
	if len(desired.Sensitive) != 2 || desired.Sensitive[1] != "labels.team" {
		t.Errorf("KeepIgnored modified the desired app: %q", desired.Sensitive)
	}
}

// TestMasked: the typed copy shows the mask in string fields and keeps the rest.
func TestMasked(t *testing.T) {
	a := NewApp("/a")
	a.Cmd = "run --pw=s3cret"
	a.Env = map[string]string{"DB_PASSWORD": "s3cret", "LOG": "info"}
	a.Instances = 4
	a.Sensitive = []string{"cmd", "env", "instances"}
	a.ApplyDefaults()
	m := a.Masked()
	if m.Cmd != SensitiveValue || m.Env["DB_PASSWORD"] != SensitiveValue || m.Env["LOG"] != SensitiveValue || m.Instances != 4 {
		t.Errorf("masked: cmd %q env %v instances %d", m.Cmd, m.Env, m.Instances)
	}
	if a.Cmd != "run --pw=s3cret" {
		t.Error("Masked modified the app")
	}
	b := NewApp("/b")
	if b.Masked() != b {
		t.Error("an app with nothing sensitive is copied")
	}
}

// BenchmarkMaskJSON masks one app's JSON (api_post_event does it per app
// written; plan -json per sensitive app).
func BenchmarkMaskJSON(b *testing.B) {
	a := NewApp("/shop/api")
	a.Cmd = "run --pw=s3cret"
	a.Env = map[string]string{"DB_PASSWORD": "s3cret", "LOG": "info", "REGION": "eu-west-1"}
	a.Labels = map[string]string{"team": "payments", "token": "s3cret"}
	a.HealthChecks = []HealthCheck{DefaultHealthCheck()}
	a.HealthChecks[0].Path = "/health?token=s3cret"
	a.Sensitive = []string{"cmd", "env.DB_PASSWORD", "healthChecks[0].path", "labels.token"}
	a.ApplyDefaults()
	doc, err := json.Marshal(a)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MaskJSON(a, doc); err != nil {
			b.Fatal(err)
		}
	}
}
