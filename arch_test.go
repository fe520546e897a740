package riposte

import (
	"encoding/json"
	"flag"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/riposte/riposte"

// TestPackageDocs checks that every package has exactly one package comment.
func TestPackageDocs(t *testing.T) {
	pkgs := listPackages(t)
	for _, p := range pkgs {
		fset := token.NewFileSet()
		n := 0
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d files carry a package comment, want exactly 1", p.ImportPath, n)
		}
	}
}

// forbidden lists, per package, the packages it must never import, with the
// reason. Data flows collect → analysis → respond → fleet → execd → action.
var forbidden = []struct {
	pkg, imports, why string
}{
	{"internal/alert", "internal/", "alert is shared vocabulary and imports no stage"},
	{"internal/config", "internal/", "config is shared vocabulary and imports no stage"},
	{"internal/arlog", "internal/", "arlog is linked into the response executables alone"},
	{"internal/groupwrite", "internal/", "groupwrite is a building block; it imports nothing of the project"},
	{"internal/collect", "internal/", "collect is the first stage"},
	{"internal/analysis", "internal/respond", "analysis knows nothing of responses"},
	{"internal/analysis", "internal/execd", "analysis knows nothing of responses"},
	{"internal/analysis", "internal/instance", "stages never import the wiring"},
	{"internal/respond", "internal/execd", "respond decides; it knows nothing of how decisions are carried out"},
	{"internal/respond", "internal/api", "respond holds the policy; api only serves it"},
	{"internal/respond", "internal/instance", "stages never import the wiring"},
	{"internal/execd", "internal/api", "execd never imports a later stage"},
	{"internal/execd", "internal/instance", "stages never import the wiring"},
	{"internal/execd", "github.com/nats-io/", "execd does not know the transport"},
	{"internal/action", "internal/respond", "action is linked alone into riposte-ar"},
	{"internal/action", "internal/execd", "action is linked alone into riposte-ar"},
	{"internal/action", "internal/api", "action is linked alone into riposte-ar"},
	{"internal/api", "internal/instance", "api is handed a backend; it does not build one"},
	{"internal/fleet", "internal/", "fleet is the wire contract and imports no stage"},
	{"internal/fleet/manager", "internal/execd", "the manager sends commands; agents carry them out"},
	{"internal/fleet/manager", "internal/instance", "stages never import the wiring"},
	{"internal/fleet/manager", "internal/api", "api serves the manager, not the other way"},
	{"internal/fleet/agent", "internal/execd", "the agent hands commands to an executor it is given"},
	{"internal/fleet/agent", "internal/respond", "agents carry out commands; the manager decides"},
	{"internal/fleet/agent", "internal/instance", "stages never import the wiring"},
	{"internal/broker", "internal/fleet/", "the broker authorises; it does not dispatch"},
	{"internal/broker", "internal/execd", "the broker knows nothing of execution"},
	{"internal/broker", "internal/instance", "stages never import the wiring"},
	{"internal/enroll", "internal/fleet/", "enrollment hands out credentials; it does not dispatch"},
	{"internal/enroll", "internal/instance", "stages never import the wiring"},
	{"internal/audit", "internal/", "the audit trail is shared vocabulary and imports no stage"},
	{"internal/users", "internal/", "users and roles know nothing of what they guard"},
	{"internal/console", "internal/", "the console is static files; it talks to the API over HTTP"},
	{"internal/metrics", "internal/", "metrics are fed by the wiring"},
	{"internal/httpapi", "internal/instance", "the API is handed a backend; it does not build one"},
	{"cmd/riposte-ar", "internal/execd", "riposte-ar holds the actions alone"},
	{"cmd/riposte-ar", "internal/respond", "riposte-ar holds the actions alone"},
	{"cmd/riposte-ar", "internal/api", "riposte-ar serves nothing"},
	{"cmd/riposte-ar", "internal/instance", "riposte-ar holds the actions alone"},
	{"cmd/riposte-ar", "github.com/nats-io/", "riposte-ar does not talk to the manager"},
}

// allowed lists, per package, the packages a forbidden rule of its lets it
// import all the same.
var allowed = map[string][]string{
	"internal/arlog": {"internal/groupwrite"},
}

// TestRiposteARDeps compares the packages linked into riposte-ar with the
// committed list cmd/riposte-ar/deps.txt, so that a new dependency shows in
// review. Run with -update-deps to rewrite the list.
func TestRiposteARDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./cmd/riposte-ar").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var got []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			got = append(got, l)
		}
	}
	slices.Sort(got)
	text := "# Non-standard packages linked into riposte-ar (go test . -update-deps rewrites this file).\n" + strings.Join(got, "\n") + "\n"
	path := filepath.Join("cmd", "riposte-ar", "deps.txt")
	if *updateDeps {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test . -update-deps)", err)
	}
	if string(want) != text {
		t.Errorf("riposte-ar's dependencies changed; review and run go test . -update-deps:\ngot:\n%s\nwant:\n%s", text, want)
	}
}

var updateDeps = flag.Bool("update-deps", false, "rewrite cmd/riposte-ar/deps.txt")

// TestImportRules enforces the one-way flow between stages.
func TestImportRules(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, rule := range forbidden {
			if rel != rule.pkg {
				continue
			}
			for _, dep := range p.Deps {
				target := dep
				if strings.HasPrefix(rule.imports, "internal/") {
					target = strings.TrimPrefix(strings.TrimPrefix(dep, module), "/")
					if !strings.HasPrefix(dep, module+"/") {
						continue
					}
				}
				if strings.HasPrefix(target, rule.imports) && !slices.Contains(allowed[rel], target) {
					t.Errorf("%s imports %s: %s", rel, dep, rule.why)
				}
			}
		}
	}
}

type goPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Deps       []string
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []goPackage
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("only %d packages listed", len(pkgs))
	}
	return pkgs
}
