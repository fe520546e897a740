package riposte

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
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
	{"internal/collect", "internal/", "collect is the first stage"},
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
}

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
				if strings.HasPrefix(target, rule.imports) {
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
