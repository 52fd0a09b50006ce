// Package harness tests the c-shared Fluent Bit plugin the way Fluent Bit
// runs it: a small C program (c/flbharness.c) dlopens auditlane.so and drives
// it through the Go proxy's ABI — FLBPluginRegister filling
// flb_plugin_proxy_def, FLBPluginInit with the flbgo_output_plugin struct and
// flb_api.output_get_property, FLBPluginFlushCtx with the instance's
// remote_context, FLBPluginExitCtx — against local CloudWatch Logs and SLS
// test servers.
package harness
