package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReadmeListsEveryKey: README's configuration reference names every
// key the program accepts (Config's and a target's), and names no key it
// does not accept.
func TestReadmeListsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "## Configuration")
	end := strings.Index(text[start+1:], "\n## ")
	section := text[start : start+1+end]
	// The first column of each table row: one or more `key`s.
	var rowKeys []string
	documented := map[string]bool{}
	tick := regexp.MustCompile("`([a-z_]+)`")
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		for _, m := range tick.FindAllStringSubmatch(cells[1], -1) {
			rowKeys = append(rowKeys, m[1])
		}
		for _, m := range tick.FindAllStringSubmatch(line, -1) {
			documented[m[1]] = true
		}
	}
	accepted := jsonKeys(reflect.TypeFor[Config]())
	for _, k := range jsonKeys(reflect.TypeFor[Target]()) {
		if !documented[k] {
			t.Errorf("target key %q is accepted but not in README's configuration reference", k)
		}
	}
	for _, k := range accepted {
		if !slices.Contains(rowKeys, k) {
			t.Errorf("key %q is accepted but has no row in README's configuration reference", k)
		}
	}
	for _, k := range rowKeys {
		if !slices.Contains(accepted, k) {
			t.Errorf("README documents key %q, which the program does not accept", k)
		}
	}
}

func jsonKeys(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		tag := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		if tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}
