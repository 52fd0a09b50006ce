package slssrc

import (
	"reflect"
	"time"
	"unsafe"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	consumer "github.com/aliyun/aliyun-log-go-sdk/consumer"
)

// The SDK's defaults (request.go in aliyun-log-go-sdk v0.1.124).
const (
	sdkRequestTimeout = 60 * time.Second
	sdkRetryTimeout   = 90 * time.Second
)

// primeClient works around a data race in aliyun-log-go-sdk v0.1.124:
// Client.initHttpClient lazily writes RequestTimeOut, RetryTimeOut and
// HTTPClient on the first logstore request (under a read lock), and the
// consumer library's shard workers make their first requests
// concurrently. Setting the fields before the worker starts leaves
// nothing to write. The SDK keeps the client in unexported fields
// (ConsumerWorker.client.client), reached through reflection; when the
// layout differs (another SDK version) nothing is changed and it reports
// false.
func primeClient(w *consumer.ConsumerWorker) bool {
	field := func(v reflect.Value, name string) (reflect.Value, bool) {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		f := v.FieldByName(name)
		if !f.IsValid() || !f.CanAddr() {
			return reflect.Value{}, false
		}
		return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem(), true
	}
	cc, ok := field(reflect.ValueOf(w), "client")
	if !ok {
		return false
	}
	ci, ok := field(cc, "client")
	if !ok || ci.IsNil() {
		return false
	}
	c, ok := ci.Interface().(*slssdk.Client)
	if !ok {
		return false
	}
	if c.RequestTimeOut == 0 {
		c.RequestTimeOut = sdkRequestTimeout
	}
	if c.RetryTimeOut == 0 {
		c.RetryTimeOut = sdkRetryTimeout
	}
	return true
}

// PrimeWorker applies the workaround of primeClient to a consumer worker
// built outside this package (tests driving the SDK's consumer library
// directly). Call it before w.Start; it reports whether the SDK's layout
// was recognised.
func PrimeWorker(w *consumer.ConsumerWorker) bool { return primeClient(w) }
