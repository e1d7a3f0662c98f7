// CURLcode → ErrorKind (see curl_error.h).
#include "upstream/curl_error.h"

namespace upstream {

ErrorKind classifyCurlError(CURLcode code, const FailureContext& context) {
  if (code == CURLE_OK) {
    return ErrorKind::kNone;
  }
  // A proxy that answered CONNECT with anything but 2xx refused the tunnel, whatever CURLcode
  // curl chose to report it with.
  if (context.proxyConnectStatus != 0 &&
      (context.proxyConnectStatus < 200 || context.proxyConnectStatus >= 300)) {
    return ErrorKind::kProxy;
  }
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_PROXY:
      return ErrorKind::kProxy;
    case CURLE_COULDNT_CONNECT:
      // Through a proxy, the only TCP connection curl makes itself is the one to the proxy.
      return context.viaProxy ? ErrorKind::kProxy : ErrorKind::kConnect;
    case CURLE_COULDNT_RESOLVE_HOST:
      return ErrorKind::kConnect;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return context.responseStarted ? ErrorKind::kProtocol : ErrorKind::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      // The Client sets no CURLOPT_TIMEOUT (it would cap long streams): curl's only clock is
      // the connect timeout. The first-byte and idle timers are the Client's own.
      return context.responseStarted ? ErrorKind::kIdleTimeout : ErrorKind::kConnectTimeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
      return ErrorKind::kTls;
    case CURLE_FILESIZE_EXCEEDED:
      return ErrorKind::kTooLarge;
    case CURLE_PARTIAL_FILE:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
      return ErrorKind::kProtocol;
    default:
      return ErrorKind::kOther;
  }
}

}  // namespace upstream
