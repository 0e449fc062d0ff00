package api

import "testing"

// TestFreePortRanges: the free ports of an agent are its total ranges without
// the used ones, as Mesos writes ranges.
func TestFreePortRanges(t *testing.T) {
	tests := map[string]struct{ total, used, want string }{
		"nothing used":         {"[31000-31999]", "", "[31000-31999]"},
		"middle used":          {"[31000-31009]", "[31003-31004]", "[31000-31002,31005-31009]"},
		"ends used":            {"[31000-31009]", "[31000-31000, 31009-31009]", "[31001-31008]"},
		"all used":             {"[31000-31001]", "[31000-31001]", ""},
		"several ranges":       {"[31020-31029, 31000-31009]", "[31005-31025]", "[31000-31004,31026-31029]"},
		"used outside total":   {"[31000-31001]", "[30000-30010]", "[31000-31001]"},
		"overlapping input":    {"[31000-31005,31003-31009]", "", "[31000-31009]"},
		"what does not parse":  {"[31000-31001, x-y, 5-1]", "", "[31000-31001]"},
		"no ports":             {"", "", ""},
		"used over two ranges": {"[1-2,4-5]", "[2-4]", "[1-1,5-5]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := formatRanges(subtractPortRanges(parseRanges(tc.total), parseRanges(tc.used)))
			if got != tc.want {
				t.Errorf("free of %q minus %q = %q, want %q", tc.total, tc.used, got, tc.want)
			}
			if countPorts(got) != countPorts(tc.want) {
				t.Errorf("count %d, want %d", countPorts(got), countPorts(tc.want))
			}
		})
	}
}

// TestAttributeValues: numbers as constraints compare them (Mesos' three
// decimals, no trailing zeros), text as is.
func TestAttributeValues(t *testing.T) {
	got := attributeValues(map[string]any{"rack": "r1", "weight": float64(3), "ratio": 2.5, "tiny": 0.12345})
	want := map[string]string{"rack": "r1", "weight": "3", "ratio": "2.5", "tiny": "0.123"}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
