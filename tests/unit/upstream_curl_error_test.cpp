// CURLcode → ErrorKind: what the relay decides (retry, which status, which account state) rests
// on these, so each family is pinned.
#include <gtest/gtest.h>

#include "upstream/curl_error.h"

namespace upstream {
namespace {

ErrorKind direct(CURLcode code) { return classifyCurlError(code, FailureContext{}); }

TEST(ClassifyCurlError, SuccessIsNoError) { EXPECT_EQ(direct(CURLE_OK), ErrorKind::kNone); }

TEST(ClassifyCurlError, RefusedOrUnresolvableBackendIsAConnectError) {
  EXPECT_EQ(direct(CURLE_COULDNT_CONNECT), ErrorKind::kConnect);
  EXPECT_EQ(direct(CURLE_COULDNT_RESOLVE_HOST), ErrorKind::kConnect);
  EXPECT_EQ(direct(CURLE_GOT_NOTHING), ErrorKind::kConnect);
  EXPECT_EQ(direct(CURLE_RECV_ERROR), ErrorKind::kConnect);
}

TEST(ClassifyCurlError, ResetAfterTheResponseStartedIsAProtocolError) {
  FailureContext started;
  started.responseStarted = true;
  EXPECT_EQ(classifyCurlError(CURLE_RECV_ERROR, started), ErrorKind::kProtocol);
  EXPECT_EQ(direct(CURLE_PARTIAL_FILE), ErrorKind::kProtocol);
  EXPECT_EQ(direct(CURLE_BAD_CONTENT_ENCODING), ErrorKind::kProtocol);
  EXPECT_EQ(direct(CURLE_WEIRD_SERVER_REPLY), ErrorKind::kProtocol);
  EXPECT_EQ(direct(CURLE_HTTP2_STREAM), ErrorKind::kProtocol);
}

TEST(ClassifyCurlError, CertificateAndHandshakeFailuresAreTlsErrors) {
  EXPECT_EQ(direct(CURLE_SSL_CONNECT_ERROR), ErrorKind::kTls);
  EXPECT_EQ(direct(CURLE_PEER_FAILED_VERIFICATION), ErrorKind::kTls);
  EXPECT_EQ(direct(CURLE_SSL_CACERT_BADFILE), ErrorKind::kTls);
}

TEST(ClassifyCurlError, ProxyFailuresAreProxyErrors) {
  FailureContext viaProxy;
  viaProxy.viaProxy = true;
  EXPECT_EQ(classifyCurlError(CURLE_COULDNT_CONNECT, viaProxy), ErrorKind::kProxy);
  EXPECT_EQ(direct(CURLE_COULDNT_RESOLVE_PROXY), ErrorKind::kProxy);
  EXPECT_EQ(direct(CURLE_PROXY), ErrorKind::kProxy);
  FailureContext refused;
  refused.viaProxy = true;
  refused.proxyConnectStatus = 407;
  EXPECT_EQ(classifyCurlError(CURLE_RECV_ERROR, refused), ErrorKind::kProxy);
}

TEST(ClassifyCurlError, AnAcceptedTunnelDoesNotMakeLaterFailuresProxyErrors) {
  FailureContext tunnel;
  tunnel.viaProxy = true;
  tunnel.proxyConnectStatus = 200;
  EXPECT_EQ(classifyCurlError(CURLE_PEER_FAILED_VERIFICATION, tunnel), ErrorKind::kTls);
}

TEST(ClassifyCurlError, CurlTimingOutIsTheConnectTimeout) {
  EXPECT_EQ(direct(CURLE_OPERATION_TIMEDOUT), ErrorKind::kConnectTimeout);
}

TEST(ClassifyCurlError, EverythingElseIsOther) {
  EXPECT_EQ(direct(CURLE_URL_MALFORMAT), ErrorKind::kOther);
  EXPECT_EQ(direct(CURLE_OUT_OF_MEMORY), ErrorKind::kOther);
}

}  // namespace
}  // namespace upstream
