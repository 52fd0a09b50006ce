package main

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The start of struct flb_plugin_proxy_def (include/fluent-bit/flb_plugin_proxy.h)
// as of Fluent Bit 5.1.1, which added config_map for proxy plugins.
struct auditlane_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    int event_type;
    void *config_map;
};

// struct flb_config_map as of Fluent Bit 5.0.3+ (include/fluent-bit/flb_config_map.h):
// the fields a plugin fills at registration, then the value (a union, the
// raw template, the mult list pointer, a list head) and the list head that
// Fluent Bit fills in its own copies. Only the first seven are read from a
// plugin's static map; the size sets the stride of the array.
struct auditlane_config_map {
    int type;
    char *name;
    char *def_value;
    int flags;
    int set_property;
    uintptr_t offset;
    char *desc;
    void *value_val;
    void *value_raw;
    void *value_mult;
    void *value_head[2];
    void *head[2];
};

static void *auditlane_config_map_new(int n) {
    return calloc((size_t)n + 1, sizeof(struct auditlane_config_map));
}

static void auditlane_config_map_set(void *m, int i, char *name, char *def, char *desc) {
    struct auditlane_config_map *e = (struct auditlane_config_map *)m + i;
    e->type = 0; // FLB_CONFIG_MAP_STR: the plugin parses and checks values itself
    e->name = name;
    e->def_value = def;
    e->desc = desc;
}

static void auditlane_register_config_map(void *def, void *m) {
    ((struct auditlane_proxy_def *)def)->config_map = m;
}
*/
import "C"

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"time"
	"unsafe"

	"github.com/auditlane/auditlane/common/config"
	"github.com/auditlane/auditlane/fluentbit/internal/plugin"
)

// registerConfigMap hands Fluent Bit the plugin's keys (plugin.Sections)
// as a config map, so that Fluent Bit itself refuses an unknown key at
// start-up ("unknown configuration property") and lists the keys in
// `fluent-bit -e auditlane.so -o auditlane -h`, as it does for its own
// plugins. Proxy plugins can register one since Fluent Bit 5.1.1: with an
// older Fluent Bit (whose registration struct has no room for it) nothing
// is registered and a warning says that unknown keys go unnoticed.
func registerConfigMap(def unsafe.Pointer) {
	major, minor, patch, err := fluentBitVersion()
	if err != nil || !versionAtLeast(major, minor, patch, 5, 1, 1) {
		why := "this Fluent Bit is older than 5.1.1"
		if err != nil {
			why = "the Fluent Bit version could not be read: " + err.Error()
		}
		plugin.NewLogger(os.Stderr, plugin.LevelWarn, "auditlane").Warnf(
			"%s: misspelt or unknown [OUTPUT] keys cannot be refused at start-up (Fluent Bit 5.1.1 or later checks them)", why)
		return
	}
	var keys []config.Key
	seen := map[string]bool{}
	for _, s := range plugin.Sections() {
		for _, k := range s.Keys {
			if !seen[k.Name] {
				seen[k.Name] = true
				keys = append(keys, k)
			}
		}
	}
	m := C.auditlane_config_map_new(C.int(len(keys)))
	for i, k := range keys {
		var def *C.char
		if k.Default != "" {
			def = C.CString(k.Default)
		}
		// The strings live as long as the process: Fluent Bit keeps the
		// descriptions it is given.
		C.auditlane_config_map_set(m, C.int(i), C.CString(k.Name), def, C.CString(k.Doc))
	}
	C.auditlane_register_config_map(def, m)
}

var versionRE = regexp.MustCompile(`Fluent Bit v(\d+)\.(\d+)\.(\d+)`)

// fluentBitVersion asks the running Fluent Bit binary for its version
// (`fluent-bit --version`): neither the proxy API nor an exported symbol
// tells it, and the registration struct's size depends on it.
func fluentBitVersion() (major, minor, patch int, err error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, 0, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, exe, "--version").Output()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%s --version: %w", exe, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0, 0, 0, fmt.Errorf("%s --version printed no Fluent Bit version", exe)
	}
	major, _ = strconv.Atoi(string(m[1]))
	minor, _ = strconv.Atoi(string(m[2]))
	patch, _ = strconv.Atoi(string(m[3]))
	return major, minor, patch, nil
}

func versionAtLeast(a, b, c, x, y, z int) bool {
	if a != x {
		return a > x
	}
	if b != y {
		return b > y
	}
	return c >= z
}
