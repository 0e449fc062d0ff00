// Package view renders Stride's data for people and programs: plans as coloured
// text in Terraform's manner or as JSON, and deployment progress. It holds no
// business logic: everything it prints is already decided in the data it is given.
package view

import (
	"os"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
)

// Styles are the colours of the human output. With colour disabled every style
// prints its text unchanged.
type Styles struct {
	Create, Update, Destroy, Bold, Dim, Warn, Error *color.Color
}

// NewStyles returns the styles, coloured only when enabled is true.
func NewStyles(enabled bool) Styles {
	mk := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		if enabled {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	return Styles{
		Create:  mk(color.FgGreen),
		Update:  mk(color.FgYellow),
		Destroy: mk(color.FgRed),
		Bold:    mk(color.Bold),
		Dim:     mk(color.Faint),
		Warn:    mk(color.FgYellow, color.Bold),
		Error:   mk(color.FgRed, color.Bold),
	}
}

// ColorEnabled decides whether output to f is coloured: only on a terminal, and
// never with -no-color or with the NO_COLOR environment variable set.
func ColorEnabled(f *os.File, noColor bool) bool {
	if noColor || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" || f == nil {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}
