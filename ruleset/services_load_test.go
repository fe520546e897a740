package ruleset_test

import (
	"io/fs"
	"slices"
	"testing"

	"github.com/riposte/riposte/ruleset"
)

// TestServicesLoad checks that the service files are embedded and their
// rules loaded.
func TestServicesLoad(t *testing.T) {
	var got []string
	err := fs.WalkDir(ruleset.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"decoders/0020-riposte-pam.xml", "decoders/0030-riposte-sudo.xml", "decoders/0040-riposte-su.xml",
		"decoders/0050-riposte-web-accesslog.xml", "decoders/0060-riposte-postfix.xml", "decoders/0070-riposte-dovecot.xml",
		"rules/0030-riposte-postfix.xml", "rules/0085-riposte-pam.xml", "rules/0100-riposte-sudo.xml",
		"rules/0105-riposte-su.xml", "rules/0155-riposte-dovecot.xml", "rules/0245-riposte-web.xml",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("FS lacks %s", want)
		}
	}
	e := load(t, nil)
	for _, id := range []int{
		5400, 5401, 5402, 5404, 5405, 5406, 5407,
		5300, 5301, 5302, 5303, 5304,
		5500, 5503, 5504, 5551,
		31100, 31101, 31103, 31104, 31105, 31151, 31152, 31153,
		3320, 3332, 3357,
		9700, 9701, 9702, 9705, 9750, 9751,
	} {
		if e.Rule(id) == nil {
			t.Errorf("rule %d missing", id)
		}
	}
}
