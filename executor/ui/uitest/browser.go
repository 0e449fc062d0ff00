// Package uitest drives Stride's web UI in a real headless Chromium for tests
// (Debian's chromium, through the DevTools protocol with chromedp). Tests skip
// with a clear message when no Chromium is installed; CI installs it (.ci/run).
//
// Chromium runs with a fresh profile and with its background services off
// (update checks, sync, QUIC, component downloads): it talks to the server under
// test and nothing else.
package uitest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// Chromium returns the Chromium to run: $STRIDE_TEST_CHROMIUM, else the first
// of chromium, chromium-browser, google-chrome on PATH ("" when none).
func Chromium() string {
	if p := os.Getenv("STRIDE_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is a headless Chromium with one tab, and what the pages wrote to the
// console.
type Browser struct {
	// Ctx is the tab's chromedp context: pass it to chromedp.Run and Do.
	Ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	problems []string
}

// Start starts Chromium with a width×height window, or skips the test when no
// Chromium is installed. The browser stops at the end of the test.
func Start(t testing.TB, width, height int) *Browser {
	t.Helper()
	bin := Chromium()
	if bin == "" {
		t.Skip("no Chromium found (install Debian's chromium: apt-get install chromium, or set STRIDE_TEST_CHROMIUM): the browser tests need a real browser")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &Browser{Ctx: ctx, cancel: func() { cancel(); acancel() }}
	// The first Run starts the browser (with the allocator's lifetime).
	if err := chromedp.Do(ctx); err != nil {
		b.cancel()
		t.Fatalf("starting %s: %v", bin, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s (%s:%d)", m.String(), m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(b.cancel)
	return b
}

// Problems returns the console errors and uncaught exceptions since the last
// call, and forgets them.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// CheckConsole fails the test with the console errors and uncaught exceptions
// the pages wrote since the last check, except those containing one of the
// expected strings (a request the test made fail on purpose, say).
func (b *Browser) CheckConsole(t testing.TB, where string, expected ...string) {
	t.Helper()
	var bad []string
next:
	for _, p := range b.Problems() {
		for _, e := range expected {
			if strings.Contains(p, e) {
				continue next
			}
		}
		bad = append(bad, p)
	}
	if len(bad) > 0 {
		t.Errorf("%s: the console has errors:\n  %s", where, strings.Join(bad, "\n  "))
	}
}

// Wait polls a JavaScript expression in the page (each animation frame) until
// it is truthy, for at most timeout, and returns an error saying what was
// awaited otherwise.
func (b *Browser) Wait(expr string, timeout time.Duration) error {
	_, err := chromedp.Run(b.Ctx, chromedp.Poll[any](expr, chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", expr, err)
	}
	return nil
}

// Eval evaluates a JavaScript expression in the page and decodes its value.
func Eval[T any](b *Browser, expr string) (T, error) {
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		return v, fmt.Errorf("evaluating %s: %w", expr, err)
	}
	return v, nil
}

// Navigate opens url and waits for the page to load.
func (b *Browser) Navigate(url string) error {
	return chromedp.Do(b.Ctx, chromedp.Navigate(url))
}

// Viewport sets the page's size (a phone: 390×844, scale 3, mobile).
func (b *Browser) Viewport(width, height int64, mobile bool) error {
	opts := []chromedp.EmulateViewportOption{}
	if mobile {
		opts = append(opts, chromedp.EmulateScale(2), chromedp.EmulateMobile)
	}
	return chromedp.Do(b.Ctx, chromedp.EmulateViewport(width, height, opts...))
}

// ColorScheme emulates prefers-color-scheme ("light", "dark"; "" resets).
func (b *Browser) ColorScheme(scheme string) error {
	p := emulation.SetEmulatedMediaParams{}
	if scheme != "" {
		p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	_, err := chromedp.Call(b.Ctx, emulation.SetEmulatedMedia, p)
	return err
}

// Screenshot captures the viewport as PNG.
func (b *Browser) Screenshot() ([]byte, error) {
	return chromedp.Run(b.Ctx, chromedp.CaptureScreenshot())
}
