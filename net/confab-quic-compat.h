/* confab-quic-compat.h: the handful of ngtcp2 names that changed between the
 * 0.12 Debian ships and 1.x (what a Flatpak module would bring). Confab's QUIC
 * code uses only the confab_ names below for those calls, so both build. */
#pragma once

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/version.h>

#if NGTCP2_VERSION_NUM >= 0x010000
typedef ngtcp2_ccerr ConfabCcerr;
#define confab_ccerr_default(e) ngtcp2_ccerr_default (e)
#define confab_ccerr_set_application_error(e, code, r, rlen)                                       \
  ngtcp2_ccerr_set_application_error ((e), (code), (r), (rlen))
#define confab_ccerr_set_liberr(e, err, r, rlen) ngtcp2_ccerr_set_liberr ((e), (err), (r), (rlen))
#define confab_ccerr_set_tls_alert(e, alert, r, rlen)                                              \
  ngtcp2_ccerr_set_tls_alert ((e), (alert), (r), (rlen))
#define confab_conn_shutdown_stream(c, id, code) ngtcp2_conn_shutdown_stream ((c), 0, (id), (code))
#define confab_conn_shutdown_stream_read(c, id, code)                                              \
  ngtcp2_conn_shutdown_stream_read ((c), 0, (id), (code))
/* 1.x ignores original_dcid unless told it is there. */
#define confab_params_set_original_dcid(p, cid)                                                    \
  G_STMT_START                                                                                     \
  {                                                                                                \
    (p)->original_dcid = *(cid);                                                                   \
    (p)->original_dcid_present = 1;                                                                \
  }                                                                                                \
  G_STMT_END
#define confab_conn_in_closing_period(c)  ngtcp2_conn_in_closing_period (c)
#define confab_conn_in_draining_period(c) ngtcp2_conn_in_draining_period (c)
#else
typedef ngtcp2_connection_close_error ConfabCcerr;
#define confab_ccerr_default(e) ngtcp2_connection_close_error_default (e)
#define confab_ccerr_set_application_error(e, code, r, rlen)                                       \
  ngtcp2_connection_close_error_set_application_error ((e), (code), (r), (rlen))
#define confab_ccerr_set_liberr(e, err, r, rlen)                                                   \
  ngtcp2_connection_close_error_set_transport_error_liberr ((e), (err), (r), (rlen))
#define confab_ccerr_set_tls_alert(e, alert, r, rlen)                                              \
  ngtcp2_connection_close_error_set_transport_error_tls_alert ((e), (alert), (r), (rlen))
#define confab_conn_shutdown_stream(c, id, code) ngtcp2_conn_shutdown_stream ((c), (id), (code))
#define confab_conn_shutdown_stream_read(c, id, code)                                              \
  ngtcp2_conn_shutdown_stream_read ((c), (id), (code))
#define confab_params_set_original_dcid(p, cid)                                                    \
  G_STMT_START { (p)->original_dcid = *(cid); }                                                    \
  G_STMT_END
#define confab_conn_in_closing_period(c)  ngtcp2_conn_is_in_closing_period (c)
#define confab_conn_in_draining_period(c) ngtcp2_conn_is_in_draining_period (c)
#endif

/* ngtcp2 before 0.13 never closes a stream the peer opened as unidirectional
 * (upstream commit 1d591bde), so its stream_close callback never hands the
 * stream id back. On those versions Confab returns the id itself when the
 * stream's FIN arrives; ngtcp2 keeps its own small per-stream record until the
 * connection ends. */
#define CONFAB_NGTCP2_LEAKS_REMOTE_UNI (NGTCP2_VERSION_NUM < 0x000d00)
