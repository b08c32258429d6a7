// Package tap is Berth's stand-in for github.com/mndrix/tap-go, which Debian does not
// package. It implements only what the OCI runtime-tools validation programs and
// runtimetest call, and writes TAP version 13 to standard output.
// See conformance/README.md.
package tap

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// T is a TAP producer. Its zero value writes to standard output.
type T struct {
	nextTestNumber int
	// TODO marks the next test as a TODO (set by Todo).
	TODO bool
	// Writer receives the TAP stream; nil means os.Stdout.
	Writer io.Writer
}

// New returns a producer whose next test is number 1.
func New() *T { return &T{nextTestNumber: 1} }

func (t *T) w() io.Writer {
	if t.Writer == nil {
		return os.Stdout
	}
	return t.Writer
}

// Header prints the TAP version line and, when testCount > 0, the plan.
func (t *T) Header(testCount int) {
	fmt.Fprintln(t.w(), "TAP version 13")
	if testCount > 0 {
		fmt.Fprintf(t.w(), "1..%d\n", testCount)
	}
}

func (t *T) number() int {
	if t.nextTestNumber == 0 {
		t.nextTestNumber = 1
	}
	n := t.nextTestNumber
	t.nextTestNumber++
	return n
}

// oneLine keeps a description on its test line: "#" would start a directive.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "#", "\\#")
}

// Ok reports one test that passed when test is true.
func (t *T) Ok(test bool, description string) {
	status := "ok"
	if !test {
		status = "not ok"
	}
	line := fmt.Sprintf("%s %d", status, t.number())
	if description != "" {
		line += " - " + oneLine(description)
	}
	if t.TODO {
		line += " # TODO"
		t.TODO = false
	}
	fmt.Fprintln(t.w(), line)
}

// Pass reports a passing test.
func (t *T) Pass(description string) { t.Ok(true, description) }

// Fail reports a failing test.
func (t *T) Fail(description string) { t.Ok(false, description) }

// Skip reports count skipped tests.
func (t *T) Skip(count int, description string) {
	for i := 0; i < count; i++ {
		fmt.Fprintf(t.w(), "ok %d # SKIP %s\n", t.number(), oneLine(description))
	}
}

// Todo marks the next test as TODO and returns t for chaining.
func (t *T) Todo() *T {
	t.TODO = true
	return t
}

// Count returns how many tests have been reported.
func (t *T) Count() int {
	if t.nextTestNumber == 0 {
		return 0
	}
	return t.nextTestNumber - 1
}

// AutoPlan prints the plan for the tests reported so far.
func (t *T) AutoPlan() { fmt.Fprintf(t.w(), "1..%d\n", t.Count()) }

// Diagnostic prints message as TAP comment lines.
func (t *T) Diagnostic(message string) {
	for _, l := range strings.Split(strings.TrimRight(message, "\n"), "\n") {
		fmt.Fprintln(t.w(), "# "+l)
	}
}

// Diagnosticf is Diagnostic with fmt.Sprintf formatting.
func (t *T) Diagnosticf(format string, a ...interface{}) {
	t.Diagnostic(fmt.Sprintf(format, a...))
}

// YAML prints message as an indented block (JSON is valid YAML) between "---" and "...".
func (t *T) YAML(message interface{}) error {
	b, err := json.MarshalIndent(message, "  ", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(t.w(), "  ---")
	fmt.Fprintln(t.w(), "  "+string(b))
	fmt.Fprintln(t.w(), "  ...")
	return nil
}
