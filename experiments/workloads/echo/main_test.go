package echo

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	LoadMain()
	os.Exit(m.Run())
}

func selfBinary(t *testing.T) string {
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
