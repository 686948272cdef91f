package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// commandBlocks returns the indented command blocks of a Markdown file, only those of the
// section headed section when it is not empty.
func commandBlocks(t *testing.T, path, section string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	if section != "" {
		start := strings.Index(text, "\n"+section+"\n")
		if start < 0 {
			t.Fatalf("%s has no %q section", path, section)
		}
		text = text[start+1:]
		if end := strings.Index(text[3:], "\n## "); end >= 0 {
			text = text[:end+3]
		}
	}
	var blocks []string
	var cur []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "    ") {
			cur = append(cur, strings.TrimPrefix(line, "    "))
			continue
		}
		if len(cur) > 0 {
			blocks = append(blocks, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	return blocks
}

// TestReadmeQuickstartVerbatim runs every command of the README's "Try it" section, then
// every command of docs/tour.md, which goes on from it, as written, against `ordersaga
// dev`: `go run ./cmd/ordersaga` is the built binary, $PWD is where dev keeps its data
// (./.ordersaga, where verify finds it), and dev's ports are free ones rather than the
// defaults (so that a developer's own dev, or a parallel run, does not collide): the shell
// gets ORDERSAGA_API and TEMPORAL_ADDRESS, which the ordersaga and temporal CLIs read, and
// the one literal address (grpcurl's 127.0.0.1:50051) is rewritten.
func TestReadmeQuickstartVerbatim(t *testing.T) {
	readme, tour := commandBlocks(t, "../README.md", "## Try it"), commandBlocks(t, "../docs/tour.md", "")
	if len(readme) != 1 || len(tour) < 5 || strings.Count(readme[0], "\n") != 5 {
		t.Fatalf("found %d command blocks in the README's Try it section (want one of six commands: %q) and %d in docs/tour.md",
			len(readme), readme, len(tour))
	}
	blocks := append(readme, tour...)
	s := newSystem(t)
	work := filepath.Dir(s.bin)
	s.dataDir = filepath.Join(work, ".ordersaga")
	s.start()
	home, _ := os.UserHomeDir()
	wrapper := `go() { if [ "$1 $2" = "run ./cmd/ordersaga" ]; then shift 2; "$ORDERSAGA_BIN" "$@"; else command go "$@"; fi; }
export HOME="` + home + `"
set -euo pipefail
`
	// One shell session, as in a terminal; a reader takes a moment between blocks.
	script := wrapper + "set -x\n" + strings.Join(blocks, "\nsleep 2\n") + "\n"
	script = strings.ReplaceAll(script, "127.0.0.1:50051", s.apiAddr)
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "ORDERSAGA_BIN="+s.bin, "ORDERSAGA_API="+s.apiAddr, "TEMPORAL_ADDRESS="+s.temporal)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s", err, tail(string(out), 6000))
	}
	t.Logf("the %d command blocks of the README and the tour ran:\n%s", len(blocks), tail(string(out), 3000))
}
