package sls

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/auditlane/auditlane/common/sink/sls/slstest"
)

// helperServerEnv makes the test binary run only the local SLS server, in
// its own process (see BenchmarkWriterClientOnly).
const helperServerEnv = "AUDITLANE_SLS_HELPER_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(helperServerEnv) == "1" {
		os.Exit(runHelperServer())
	}
	os.Exit(m.Run())
}

// runHelperServer serves on a loopback port, prints the address and stops
// when its standard input closes.
func runHelperServer() int {
	srv, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects:  map[string][]string{testProject: {testLogstore}},
		Keys:      map[string]string{testAK: testSK},
		CountOnly: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	fmt.Println(srv.Addr())
	io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	return 0
}
