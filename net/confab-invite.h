/* confab-invite.h: what a user pastes to join a call (PROTOCOL.md §6) turned
 * into a relay and a room, including reading an origin's /config.js. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CONFAB_INVITE_ERROR (confab_invite_error_quark ())

typedef enum
{
  CONFAB_INVITE_ERROR_INVALID, /* the link or room name is malformed */
  CONFAB_INVITE_ERROR_FETCH,   /* /config.js could not be fetched */
  CONFAB_INVITE_ERROR_CONFIG,  /* /config.js was fetched but makes no sense */
} ConfabInviteError;

GQuark confab_invite_error_quark (void);

/* Longest link we look at: anything longer is not an invite. */
#define CONFAB_INVITE_MAX_LENGTH 8192

typedef struct
{
  /* Exactly one of these says where the relay is: a WebSocket base
   * (ws[s]://host:port, from a ws:// link or a ws:// default server), or the
   * /config.js URL of an origin that lists relays. */
  char *ws_base;
  char *config_url;
  char *room;  /* NULL only for ws://…/lobby?token= links (the token names it) */
  char *user;  /* from the link (lobby path or ?name=), else NULL */
  char *token; /* room token (JWT), else NULL */
  char *key;   /* confab:// #key=… end-to-end secret; never sent to a server */
} ConfabInvite;

/* Accepts ws[s]://host[:port]/lobby/{user}/{room}, ws[s]://host[:port]/lobby?token=…,
 * http(s)://host[:port]/meeting/{room}, confab://host[:port]/{room}[?name=&token=][#key=],
 * or a plain room name joined on @default_server (a ws[s]:// or http(s):// origin;
 * may be NULL, then plain names are an error). Room and user names are
 * normalized (spaces become '_') and must then be valid (confab_name_is_valid). */
ConfabInvite *confab_invite_parse (const char *link, const char *default_server, GError **error);
void confab_invite_free (ConfabInvite *invite);

/* The lobby URL to open on @ws_base (a wsUrl) as @user (overrides the link's
 * user when non-NULL): {ws_base}/lobby/{user}/{room} or {ws_base}/lobby?token=…. */
char *confab_invite_lobby_url (const ConfabInvite *invite,
                               const char *ws_base,
                               const char *user,
                               GError **error);

/* The `sub` claim (user id) of a room token, read WITHOUT verifying the
 * signature (the relay verifies; a client only needs to know its own id).
 * NULL when @token is not a JWT with a string `sub`. */
char *confab_room_token_peek_subject (const char *token);

/* An origin's window.__APP_CONFIG, the parts a client uses. */
typedef struct
{
  char **ws_urls;          /* wsUrl split on ',', at least one, each ws:// or wss:// */
  char *ws_url;            /* the first of ws_urls */
  char *webtransport_host; /* first of webTransportHost, or NULL */
  char *
      *webtransport_hosts; /* webTransportHost split on ',' (maybe empty), e.g. https://host:4433 */
  char *webtransport_cert_hash;  /* webTransportCertificateHash (base64 SHA-256), or NULL */
  gboolean webtransport_enabled; /* true or "true" */
  gboolean e2ee_enabled;
  char *server_version; /* or NULL */
} ConfabServerConfig;

/* Parses the text of /config.js: `window.__APP_CONFIG = {...};`. */
ConfabServerConfig *confab_server_config_parse (const char *text, gsize length, GError **error);
void confab_server_config_free (ConfabServerConfig *config);

/* GETs @config_url (http or https) on the thread-default main context with a
 * small libwebsockets HTTP client and parses it. Bounded: 64 KiB, 10 s. */
void confab_server_config_fetch_async (const char *config_url,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
ConfabServerConfig *confab_server_config_fetch_finish (GAsyncResult *result, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabInvite, confab_invite_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabServerConfig, confab_server_config_free)

G_END_DECLS
