// Command mutation plants the mutants gremlins (pinned in this module) finds in the
// packages that hold the invariants and runs the tests against each, itself: gremlins
// would skip the mutants it cannot map to coverage (conditions of switch cases,
// go-gremlins/gremlins#298), and a package may be tested by more than its own tests
// (TestedBy). It prints each package's score and survivors.
// From the repository root:
//
//	go run -C tools/mutation . [-workers N] [-min-efficacy P] [-own-tests] [package ...]
//
// Without packages it runs Packages. docs/testing.md holds the last full run.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/scanner"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Packages hold the invariants of DESIGN.md.
var Packages = []string{"./eventstore", "./sqldb", "./relay", "./eventbus", "./eventbus/natsstreaming", "./eventbus/jetstream",
	"./activities", "./payments", "./menus", "./workflows", "./projections", "./api"}

// TestedBy names, for a package whose invariants other packages' tests hold, the test
// packages run against its mutants: the bus's core is proven by the contract suite that
// every adapter runs, the saga's client and its options against the real dev server by
// the worker's tests.
var TestedBy = map[string][]string{
	"./eventbus":  {"./eventbus", "./eventbus/natsstreaming", "./eventbus/jetstream"},
	"./workflows": {"./workflows", "./worker"},
}

// report is the part of gremlins' JSON output this reads.
type report struct {
	Files []struct {
		FileName  string   `json:"file_name"`
		Mutations []mutant `json:"mutations"`
	} `json:"files"`
}

type mutant struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	File   string `json:"-"`
}

func main() {
	workers := flag.Int("workers", 2, "mutants tested at once")
	coefficient := flag.Int("timeout-coefficient", 10, "a mutant's tests may take this many times the package's own run")
	minEfficacy := flag.Float64("min-efficacy", 0, "exit 1 if a package kills fewer than this percentage of its viable mutants")
	ownTests := flag.Bool("own-tests", false, "test each package by its own tests only, not TestedBy (quicker, for finding survivors)")
	flag.Parse()
	if *workers < 1 || *coefficient < 1 {
		fail(fmt.Errorf("-workers and -timeout-coefficient must be at least 1, got %d and %d", *workers, *coefficient))
	}
	if *ownTests {
		TestedBy = nil
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		fail(err)
	}
	pkgs := flag.Args()
	if len(pkgs) == 0 {
		pkgs = Packages
	}
	stop, err := shareDatabase(root)
	if err != nil {
		fail(err)
	}
	defer stop()
	fmt.Printf("%-26s %6s %6s %9s %10s %9s\n", "package", "killed", "lived", "timed out", "not viable", "efficacy")
	var survivors, slow, below []string
	for _, pkg := range pkgs {
		mutants, err := unleash(root, pkg, *workers, *coefficient)
		if err != nil {
			fail(fmt.Errorf("%s: %w", pkg, err))
		}
		counts := map[string]int{}
		for _, m := range mutants {
			counts[m.Status]++
			where := fmt.Sprintf("%s/%s:%d:%d %s", strings.TrimPrefix(pkg, "./"), m.File, m.Line, m.Column, m.Type)
			switch m.Status {
			case "LIVED":
				survivors = append(survivors, where)
				// As each package ends, so that a long run's survivors can be worked on.
				fmt.Fprintln(os.Stderr, "survivor: "+where)
			case "TIMED OUT":
				slow = append(slow, where)
			}
		}
		killed, lived := counts["KILLED"]+counts["TIMED OUT"], counts["LIVED"]
		efficacy := 100.0
		if killed+lived > 0 {
			efficacy = 100 * float64(killed) / float64(killed+lived)
		}
		fmt.Printf("%-26s %6d %6d %9d %10d %8.1f%%\n", pkg, counts["KILLED"], lived, counts["TIMED OUT"], counts["NOT VIABLE"], efficacy)
		if efficacy < *minEfficacy {
			below = append(below, pkg)
		}
	}
	sort.Strings(survivors)
	fmt.Println("\nsurvivors:")
	for _, s := range survivors {
		fmt.Println("  " + s)
	}
	// Killed, but by running into the time-out: a test that waits for what never comes.
	sort.Strings(slow)
	fmt.Println("\ntimed out:")
	for _, s := range slow {
		fmt.Println("  " + s)
	}
	if len(below) > 0 {
		stop()
		fail(fmt.Errorf("%s kill fewer than %.0f%% of their mutants", strings.Join(below, ", "), *minEfficacy))
	}
}

// envDatabaseURL points every test binary at one PostgreSQL server (see internal/dbtest).
const envDatabaseURL = "ORDERSAGA_TEST_DATABASE_URL"

// shareDatabase makes every test run share one PostgreSQL server: the one the
// environment names, or a throwaway one (internal/dbtest/testpg) that lives as long as
// this process. A test binary killed on a time-out would otherwise leave the cluster it
// started running, and starting one per run costs seconds.
func shareDatabase(root string) (stop func(), err error) {
	if os.Getenv(envDatabaseURL) != "" {
		return func() {}, nil
	}
	cmd := exec.Command("go", "run", "./internal/dbtest/testpg")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// testpg stops its server when its standard input closes: here, or when this process dies.
	stop = sync.OnceFunc(func() {
		stdin.Close()
		cmd.Wait()
	})
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return nil, fmt.Errorf("start a shared PostgreSQL: %w", err)
	}
	return stop, os.Setenv(envDatabaseURL, strings.TrimSpace(url))
}

// unleash has gremlins find pkg's mutants (a dry run) and tests each of them.
func unleash(root, pkg string, workers, coefficient int) ([]mutant, error) {
	out := filepath.Join(os.TempDir(), "gremlins-"+strings.ReplaceAll(strings.Trim(pkg, "./"), "/", "-")+".json")
	// Files below pkg (paths with a slash) belong to other packages, each scored on its own.
	cmd := exec.Command("go", "tool", "-modfile=tools/mutation/go.mod", "gremlins", "unleash", "--dry-run",
		"--exclude-files", "/", "-o", out, pkg)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gremlins: %v\n%s", err, msg)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var r report
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	var all []*mutant
	for _, f := range r.Files {
		if strings.Contains(f.FileName, "/") {
			continue // excluded above
		}
		for _, m := range f.Mutations {
			m.File = f.FileName
			all = append(all, &m)
		}
	}
	tests := TestedBy[pkg]
	if tests == nil {
		tests = []string{pkg}
	}
	start := time.Now()
	if err := run(root, tests, nil); err != nil {
		return nil, fmt.Errorf("the package's tests fail unmutated: %w\n%s", err, failureOutput(err))
	}
	timeout := time.Duration(coefficient) * time.Since(start)
	fmt.Fprintf(os.Stderr, "%s: %d mutants; its tests take %s unmutated, a mutant's at most %s\n",
		pkg, len(all), time.Since(start).Round(time.Second), timeout.Round(time.Second))
	var wg sync.WaitGroup
	queue := make(chan *mutant)
	for range workers {
		wg.Go(func() {
			for m := range queue {
				m.Status = testMutant(root, pkg, tests, *m, timeout)
			}
		})
	}
	for _, m := range all {
		queue <- m
	}
	close(queue)
	wg.Wait()
	out2 := make([]mutant, len(all))
	for i, m := range all {
		out2[i] = *m
	}
	return out2, nil
}

// testMutant applies m in a copy of pkg's file and runs the tests against it (the copy
// replaces the file through -overlay), returning KILLED, LIVED, TIMED OUT or NOT VIABLE.
func testMutant(root, pkg string, tests []string, m mutant, timeout time.Duration) string {
	path := filepath.Join(root, pkg, m.File)
	src, err := os.ReadFile(path)
	if err != nil {
		return "NOT VIABLE"
	}
	mutated, ok := mutate(src, m)
	if !ok {
		return "NOT VIABLE"
	}
	dir, err := os.MkdirTemp("", "mutant-")
	if err != nil {
		return "NOT VIABLE"
	}
	defer os.RemoveAll(dir)
	copyPath := filepath.Join(dir, m.File)
	overlay := filepath.Join(dir, "overlay.json")
	spec, _ := json.Marshal(map[string]map[string]string{"Replace": {path: copyPath}})
	if os.WriteFile(copyPath, mutated, 0o644) != nil || os.WriteFile(overlay, spec, 0o644) != nil {
		return "NOT VIABLE"
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err = runCtx(ctx, root, tests, []string{"-overlay", overlay})
	var exit *exec.ExitError
	switch {
	case err == nil:
		return "LIVED"
	case ctx.Err() != nil:
		return "TIMED OUT"
	case errors.As(err, &exit) && bytes.Contains(exit.Stderr, []byte("[build failed]")):
		return "NOT VIABLE"
	}
	return "KILLED"
}

// run runs the test packages tests with the extra flags of go test.
func run(root string, tests, extra []string) error {
	return runCtx(context.Background(), root, tests, extra)
}

func runCtx(ctx context.Context, root string, tests, extra []string) error {
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"test", "-count=1", "-failfast"}, extra...), tests...)...)
	cmd.Dir = root
	// On a time-out the test binaries go too, not only the go command that started them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		exit.Stderr = stderr.Bytes()
	}
	return err
}

// failureOutput is what a failed go test printed (its last 8 KB), so that a run that
// fails unmutated says why.
func failureOutput(err error) []byte {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return nil
	}
	out := exit.Stderr
	if len(out) > 8<<10 {
		out = out[len(out)-8<<10:]
	}
	return out
}

// replacements are the mutations gremlins makes, by mutant type and token.
var replacements = map[string]map[token.Token]string{
	"CONDITIONALS_BOUNDARY": {token.LSS: "<=", token.LEQ: "<", token.GTR: ">=", token.GEQ: ">"},
	"CONDITIONALS_NEGATION": {token.EQL: "!=", token.NEQ: "==", token.LSS: ">=", token.LEQ: ">", token.GTR: "<=", token.GEQ: "<"},
	"ARITHMETIC_BASE":       {token.ADD: "-", token.SUB: "+", token.MUL: "/", token.QUO: "*", token.REM: "*"},
	"INCREMENT_DECREMENT":   {token.INC: "--", token.DEC: "++"},
	"INVERT_NEGATIVES":      {token.SUB: "+"},
	"INVERT_LOGICAL":        {token.LAND: "||", token.LOR: "&&"},
}

// mutate returns src with the token at m's line and column replaced as m's type says.
func mutate(src []byte, m mutant) ([]byte, bool) {
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, 0)
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			return nil, false
		}
		p := fset.Position(pos)
		if p.Line != m.Line || p.Column != m.Column {
			continue
		}
		with, ok := replacements[m.Type][tok]
		if !ok {
			return nil, false
		}
		length := len(tok.String())
		if lit != "" {
			length = len(lit)
		}
		out := append([]byte{}, src[:p.Offset]...)
		out = append(out, with...)
		return append(out, src[p.Offset+length:]...), true
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mutation:", err)
	os.Exit(1)
}
