// Command auditlane.so is the Fluent Bit output plugin "auditlane", built with
//
//	go build -buildmode=c-shared -o auditlane.so ./fluentbit
//
// Fluent Bit has no Go filter plugins, so the output does the whole flow —
// decode, policy, enrich, shape, ship — on the shared core in common/. Each
// [OUTPUT] section is its own instance with its own configuration, pipeline,
// sink and counters, found again through the context pointer Fluent Bit hands
// to FLBPluginFlushCtx and FLBPluginExitCtx. See README.md for the keys.
package main

import "C"

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/auditlane/auditlane/fluentbit/internal/plugin"
)

// initTimeout bounds building an instance's sink (credential chains).
const initTimeout = 30 * time.Second

var instances atomic.Int64

// FLBPluginRegister registers the output "auditlane".
//
//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) int {
	rc := output.FLBPluginRegister(def, "auditlane", "Kubernetes audit events: policy, enrichment, CloudWatch Logs / SLS")
	registerConfigMap(def)
	return rc
}

// FLBPluginInit reads one instance's configuration and builds it. Errors
// name the key and are logged; the instance then fails with FLB_ERROR.
//
//export FLBPluginInit
func FLBPluginInit(p unsafe.Pointer) int {
	name := fmt.Sprintf("auditlane.%d", instances.Add(1)-1)
	get := func(key string) string { return output.FLBPluginConfigKey(p, key) }
	cfg, err := plugin.Load(get)
	if err != nil {
		plugin.NewLogger(os.Stderr, plugin.LevelError, name).Errorf("configuration: %v", err)
		return output.FLB_ERROR
	}
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	defer cancel()
	in, err := plugin.New(ctx, name, cfg, plugin.Options{})
	if err != nil {
		plugin.NewLogger(os.Stderr, plugin.LevelError, name).Errorf("init: %v", err)
		return output.FLB_ERROR
	}
	output.FLBPluginSetContext(p, in)
	return output.FLB_OK
}

// FLBPluginFlush is the context-less flush of old Fluent Bit versions; the
// plugin needs its instance context and refuses to run without it.
//
//export FLBPluginFlush
func FLBPluginFlush(data unsafe.Pointer, length C.int, tag *C.char) int {
	plugin.NewLogger(os.Stderr, plugin.LevelError, "auditlane").Errorf("this Fluent Bit does not call FLBPluginFlushCtx; use Fluent Bit 1.5 or later")
	return output.FLB_ERROR
}

// FLBPluginFlushCtx processes one chunk for the instance behind ctx. The
// chunk is read in place, without copying.
//
//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.int, tag *C.char) int {
	in, ok := output.FLBPluginGetContext(ctx).(*plugin.Instance)
	if !ok || in == nil {
		plugin.NewLogger(os.Stderr, plugin.LevelError, "auditlane").Errorf("flush: unknown plugin context")
		return output.FLB_ERROR
	}
	if length < 0 || (length > 0 && data == nil) {
		in.Logger().Errorf("flush: invalid chunk (%d bytes)", int(length))
		return output.FLB_ERROR
	}
	var chunk []byte
	if length > 0 {
		chunk = unsafe.Slice((*byte)(data), int(length))
	}
	return int(in.Flush(chunk, C.GoString(tag)))
}

// FLBPluginExitCtx closes the instance behind ctx.
//
//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) int {
	in, ok := output.FLBPluginGetContext(ctx).(*plugin.Instance)
	if !ok || in == nil {
		return output.FLB_ERROR
	}
	if err := in.Close(10 * time.Second); err != nil {
		in.Logger().Errorf("exit: %v", err)
	}
	return output.FLB_OK
}

// FLBPluginExit is called once when Fluent Bit unloads the plugin.
//
//export FLBPluginExit
func FLBPluginExit() int { return output.FLB_OK }

func main() {}
