package api

import (
	"reflect"
	"testing"
)

// TestParseLabelSelector covers Marathon's selector grammar (LabelSelectorParsers).
func TestParseLabelSelector(t *testing.T) {
	cases := map[string]struct {
		in   string
		want labelSelector
	}{
		"empty":          {"", labelSelector{}},
		"blank":          {"  ", labelSelector{}},
		"existence":      {"partition", labelSelector{{Key: "partition", Op: "exists"}}},
		"equals":         {"test == foo", labelSelector{{Key: "test", Op: "==", Values: []string{"foo"}}}},
		"equals tight":   {"foo==one", labelSelector{{Key: "foo", Op: "==", Values: []string{"one"}}}},
		"not equals":     {"test != foo", labelSelector{{Key: "test", Op: "!=", Values: []string{"foo"}}}},
		"in":             {"environment in (production, qa)", labelSelector{{Key: "environment", Op: "in", Values: []string{"production", "qa"}}}},
		"notin":          {"tier notin (frontend,backend)", labelSelector{{Key: "tier", Op: "notin", Values: []string{"frontend", "backend"}}}},
		"empty set":      {"a in ()", labelSelector{{Key: "a", Op: "in"}}},
		"in as key":      {"in", labelSelector{{Key: "in", Op: "exists"}}},
		"set named in":   {"in in (in)", labelSelector{{Key: "in", Op: "in", Values: []string{"in"}}}},
		"escaped":        {`\!\!\! in (\-\-\-, \&\&\&, \+\+\+)`, labelSelector{{Key: "!!!", Op: "in", Values: []string{"---", "&&&", "+++"}}}},
		"escaped spaces": {`a\ b == c\,d`, labelSelector{{Key: "a b", Op: "==", Values: []string{"c,d"}}}},
		"several": {"a in (t1, t2, t3), b notin (t1), c, d", labelSelector{
			{Key: "a", Op: "in", Values: []string{"t1", "t2", "t3"}},
			{Key: "b", Op: "notin", Values: []string{"t1"}},
			{Key: "c", Op: "exists"},
			{Key: "d", Op: "exists"},
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseLabelSelector(tc.in)
			if err != nil {
				t.Fatalf("parse %q: %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parse %q = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// TestParseLabelSelectorErrors: malformed selectors are errors, not "match all".
func TestParseLabelSelectorErrors(t *testing.T) {
	for name, in := range map[string]string{
		"unclosed set":       "a in (b",
		"missing set":        "a in",
		"missing value":      "a ==",
		"trailing comma":     "a,",
		"leading comma":      ",a",
		"double comma":       "a,,b",
		"two keys":           "a b",
		"unescaped special":  "a == b!",
		"set without commas": "a in (b c)",
		"single equals":      "a = b",
	} {
		t.Run(name, func(t *testing.T) {
			if sel, err := parseLabelSelector(in); err == nil {
				t.Errorf("parse %q = %+v, want an error", in, sel)
			}
		})
	}
}

// TestLabelSelectorMatches: every selector needs the label to exist, != and notin
// included (Marathon's LabelSelector.matches).
func TestLabelSelectorMatches(t *testing.T) {
	labels := map[string]string{"env": "prod", "tier": "web", "flag": ""}
	cases := map[string]struct {
		sel  string
		want bool
	}{
		"all":                 {"", true},
		"exists":              {"env", true},
		"exists empty value":  {"flag", true},
		"missing":             {"team", false},
		"equals":              {"env==prod", true},
		"equals other":        {"env==qa", false},
		"not equals":          {"env!=qa", true},
		"not equals same":     {"env!=prod", false},
		"not equals missing":  {"team!=x", false},
		"in":                  {"tier in (db, web)", true},
		"in other":            {"tier in (db)", false},
		"notin":               {"tier notin (db)", true},
		"notin same":          {"tier notin (web)", false},
		"notin missing label": {"team notin (x)", false},
		"and":                 {"env==prod, tier in (web)", true},
		"and fails":           {"env==prod, tier in (db)", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sel, err := parseLabelSelector(tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if got := sel.Matches(labels); got != tc.want {
				t.Errorf("%q matches %v = %v, want %v", tc.sel, labels, got, tc.want)
			}
		})
	}
}
