package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func httptestRequest() *http.Request {
	return httptest.NewRequest(http.MethodGet, "/", nil)
}
