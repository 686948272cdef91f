// Package toolbuild builds a pinned Go tool (a command of a module under tools/, such as
// the temporal CLI or the Temporal server) once into the user's cache directory, so that
// every later run, test package or CI step finds it there. Concurrent callers (test
// packages run in parallel) build it once: the first holds a lock, the others wait for it.
package toolbuild

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Tool is one pinned command.
type Tool struct {
	// Name says what it is in progress lines and errors: "the temporal CLI v1.5.1".
	Name string
	// ModuleDir is the tools module that pins it (repoRoot/tools/temporal).
	ModuleDir string
	// Package is its import path, as `go build` takes it.
	Package string
	// Out is the binary to write.
	Out string
}

// Once builds t unless t.Out exists, holding a lock on t.Out+".lock" meanwhile; progress
// goes to logger. The binary appears whole or not at all (built under a temporary name).
func Once(ctx context.Context, t Tool, logger *slog.Logger) error {
	if _, err := os.Stat(t.Out); err == nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(t.ModuleDir, "go.mod")); err != nil {
		return fmt.Errorf("toolbuild: cannot build %s: %w", t.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(t.Out), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(t.Out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(t.Out); err == nil {
		return nil // built by another process while we waited
	}
	logger.Info("building "+t.Name+" once (takes a few minutes)", "into", t.Out)
	start := time.Now()
	tmp := t.Out + ".tmp"
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, t.Package)
	cmd.Dir = t.ModuleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("toolbuild: build %s: %w\n%s", t.Name, err, out)
	}
	logger.Info("built "+t.Name, "took", time.Since(start).Round(time.Second))
	return os.Rename(tmp, t.Out)
}

// CacheDir is where pinned tools are kept: <user cache>/ordersaga.
func CacheDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("toolbuild: no cache directory: %w", err)
	}
	return filepath.Join(cache, "ordersaga"), nil
}
