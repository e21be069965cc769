/* test-invite.c: every invite link form turns into the right relay, room and
 * user, and every broken link into a clear error; /config.js parsing. */
#define G_LOG_DOMAIN "test-invite"

#include "confab-invite.h"
#include "confab-test-util.h"

#include <string.h>

typedef struct
{
  const char *link;
  const char *ws_base;
  const char *config_url;
  const char *room;
  const char *user;
  const char *token;
  const char *key;
} GoodLink;

static const GoodLink good_links[] = {
  { "ws://127.0.0.1:8080/lobby/alice/standup", "ws://127.0.0.1:8080", NULL, "standup", "alice" },
  { "wss://relay.example/lobby/bob/team-1", "wss://relay.example", NULL, "team-1", "bob" },
  { "ws://[::1]:9000/lobby/a_b/c-d/", "ws://[::1]:9000", NULL, "c-d", "a_b" },
  { "ws://relay.example:8080/lobby?token=abc.def.ghi", "ws://relay.example:8080", NULL, NULL, NULL,
    "abc.def.ghi" },
  { "  http://127.0.0.1:8080/meeting/standup  ", NULL, "http://127.0.0.1:8080/config.js",
    "standup" },
  { "https://relay.example/meeting/Daily_Sync/", NULL, "https://relay.example/config.js",
    "Daily_Sync" },
  { "HTTPS://relay.example:8443/meeting/x", NULL, "https://relay.example:8443/config.js", "x" },
  /* %20 is a space, and spaces become '_' (PROTOCOL.md §3). */
  { "https://relay.example/meeting/team%20sync", NULL, "https://relay.example/config.js",
    "team_sync" },
  { "confab://127.0.0.1:8080/standup", NULL, "http://127.0.0.1:8080/config.js", "standup" },
  { "confab://relay.example/standup?name=Ada%20L&token=t0k#key=s3cret", NULL,
    "https://relay.example/config.js", "standup", "Ada_L", "t0k", "s3cret" },
  { "confab://relay.example/room?name=bob", NULL, "https://relay.example/config.js", "room",
    "bob" },
};

static void
test_good_links (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (good_links); i++)
    {
      const GoodLink *g = &good_links[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (ConfabInvite) invite = confab_invite_parse (g->link, NULL, &error);

      g_test_message ("%s", g->link);
      g_assert_no_error (error);
      g_assert_nonnull (invite);
      g_assert_cmpstr (invite->ws_base, ==, g->ws_base);
      g_assert_cmpstr (invite->config_url, ==, g->config_url);
      g_assert_cmpstr (invite->room, ==, g->room);
      g_assert_cmpstr (invite->user, ==, g->user);
      g_assert_cmpstr (invite->token, ==, g->token);
      g_assert_cmpstr (invite->key, ==, g->key);
    }
}

static void
test_room_names (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabInvite) a = confab_invite_parse ("my room", "ws://127.0.0.1:9/", &error);
  g_autoptr (ConfabInvite) b = NULL;
  g_autoptr (ConfabInvite) c = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (a->room, ==, "my_room");
  g_assert_cmpstr (a->ws_base, ==, "ws://127.0.0.1:9");
  g_assert_null (a->config_url);

  b = confab_invite_parse ("standup", "https://relay.example", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (b->room, ==, "standup");
  g_assert_cmpstr (b->config_url, ==, "https://relay.example/config.js");

  /* Without a default server a plain name says so. */
  c = confab_invite_parse ("standup", NULL, &error);
  g_assert_null (c);
  g_assert_error (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "server"));
}

typedef struct
{
  const char *link;
  const char *expect; /* a phrase the message must contain */
} BadLink;

static const BadLink bad_links[] = {
  { "", "empty" },
  { "   ", "empty" },
  { "ftp://relay.example/meeting/x", "unknown scheme" },
  { "javascript://relay.example/meeting/x", "unknown scheme" },
  { "relay.example:8080/room", "not a room name" },
  { "ws://127.0.0.1:8080/lobby/alice", "room is missing" },
  { "ws://127.0.0.1:8080/lobby/alice/", "room is missing" },
  { "ws://127.0.0.1:8080/lobby", "room is missing" },
  { "ws://127.0.0.1:8080/", "ws://host:port/lobby/USER/ROOM" },
  { "ws://127.0.0.1:8080/lobby/a/b/c", "too many" },
  { "http://127.0.0.1:8080/meeting/", "room is missing" },
  { "http://127.0.0.1:8080/meeting", "room is missing" },
  { "http://127.0.0.1:8080/rooms/x", "https://host/meeting/ROOM" },
  { "https://relay.example/meeting/a/b", "too many" },
  { "confab://relay.example/", "room is missing" },
  { "confab://relay.example", "room is missing" },
  { "confab://relay.example/a/b", "too many" },
  { "http:///meeting/x", "host is missing" },
  { "confab://:8080/room", "host is missing" },
  { "ws://evil.example@127.0.0.1/lobby/a/b", "user information" },
  { "https://rel<ay>.example/meeting/x", NULL },
  /* Names are a security boundary: only [A-Za-z0-9_-] after normalizing. */
  { "https://relay.example/meeting/room.1", "may only contain" },
  { "https://relay.example/meeting/r%C3%A9union", "may only contain" },
  { "ws://127.0.0.1:8080/lobby/al*ce/room", "may only contain" },
  { "confab://relay.example/room?name=a%2Fb", "may only contain" },
  { "confab://relay.example/room?name=", "user name is missing" },
  /* Percent-encoding tricks: an escaped '/', NUL, a dot-dot, a broken escape. */
  { "https://relay.example/meeting/a%2Fb", "bad %-escape" },
  { "https://relay.example/meeting/a%00b", "bad %-escape" },
  { "https://relay.example/meeting/%2e%2e", NULL }, /* GUri removes dot segments */
  { "https://relay.example/meeting/..", NULL },
  { "https://relay.example/meeting/x/..%2F..%2Fadmin", NULL },
  { "https://relay.example/meeting/a%zzb", NULL },
  { "https://relay.example/meeting/a%", NULL },
  { "ws://127.0.0.1:8080/lobby/system-%26%5E%25%24%23%40%21/room", "may only contain" },
  { "ws://127.0.0.1:99999/lobby/a/b", NULL },
  { "room\nname", "may only contain" },
};

static void
test_bad_links (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_links); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ConfabInvite) invite =
          confab_invite_parse (bad_links[i].link, "ws://127.0.0.1:1", &error);

      g_test_message ("%s", bad_links[i].link);
      g_assert_null (invite);
      g_assert_error (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID);
      g_assert_true (g_str_has_prefix (error->message, "Invalid invite link"));
      if (bad_links[i].expect != NULL && strstr (error->message, bad_links[i].expect) == NULL)
        g_error ("“%s”: message “%s” lacks “%s”", bad_links[i].link, error->message,
                 bad_links[i].expect);
      /* One line, printable: it goes to a terminal or a dialog as is. */
      g_assert_null (strchr (error->message, '\n'));
    }
}

static void
test_huge_links (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) link = g_string_new ("https://relay.example/meeting/");
  g_autoptr (ConfabInvite) invite = NULL;

  /* A long name: too long for a room. */
  for (int i = 0; i < 300; i++)
    g_string_append_c (link, 'a');
  invite = confab_invite_parse (link->str, NULL, &error);
  g_assert_null (invite);
  g_assert_error (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "longer than"));
  /* The message quotes a bounded prefix, not the whole input. */
  g_assert_cmpuint (strlen (error->message), <, 300);
  g_clear_error (&error);

  /* A megabyte of link is refused before any parsing. */
  while (link->len < 1024 * 1024)
    g_string_append (link, "%41%41%41%41");
  invite = confab_invite_parse (link->str, NULL, &error);
  g_assert_null (invite);
  g_assert_error (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID);
  g_assert_cmpuint (strlen (error->message), <, 200);
}

static void
test_lobby_url (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabInvite) invite =
      confab_invite_parse ("http://h:1/meeting/standup", NULL, &error);
  g_autoptr (ConfabInvite) token = confab_invite_parse ("ws://h:1/lobby?token=a+b/c", NULL, &error);
  g_autofree char *url = NULL;
  g_autofree char *with_token = NULL;
  char *none;

  g_assert_no_error (error);
  url = confab_invite_lobby_url (invite, "ws://127.0.0.1:8080/", "Ada L", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (url, ==, "ws://127.0.0.1:8080/lobby/Ada_L/standup");

  /* No user anywhere, or a bad one: an error, never a broken URL. */
  none = confab_invite_lobby_url (invite, "ws://127.0.0.1:8080", NULL, &error);
  g_assert_null (none);
  g_assert_error (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID);
  g_clear_error (&error);
  none = confab_invite_lobby_url (invite, "ws://127.0.0.1:8080", "a/b", &error);
  g_assert_null (none);
  g_assert_error (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID);
  g_clear_error (&error);

  with_token = confab_invite_lobby_url (token, "ws://h:1", "ignored", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (with_token, ==, "ws://h:1/lobby?token=a%2Bb%2Fc");
}

static void
test_config_parse (void)
{
  const char *text = "window.__APP_CONFIG = {\"wsUrl\":\" ws://127.0.0.1:8080 , wss://b.example\","
                     "\"webTransportHost\":\"https://127.0.0.1:4433,https://c\","
                     "\"webTransportEnabled\":true,\"e2eeEnabled\":false,"
                     "\"serverVersion\":\"0.1.0\"};\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabServerConfig) config = confab_server_config_parse (text, strlen (text), &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->ws_url, ==, "ws://127.0.0.1:8080");
  g_assert_cmpuint (g_strv_length (config->ws_urls), ==, 2);
  g_assert_cmpstr (config->ws_urls[1], ==, "wss://b.example");
  g_assert_cmpstr (config->webtransport_host, ==, "https://127.0.0.1:4433");
  g_assert_true (config->webtransport_enabled);
  g_assert_false (config->e2ee_enabled);
  g_assert_cmpstr (config->server_version, ==, "0.1.0");
}

static void
test_config_bad (void)
{
  static const char *bad[] = {
    "",
    "alert(1)",
    "window.__APP_CONFIG = ;",
    "window.__APP_CONFIG = {\"wsUrl\": 5};",
    "window.__APP_CONFIG = {\"webTransportHost\": \"x\"};",
    "window.__APP_CONFIG = {\"wsUrl\": \" , \"};",
    "window.__APP_CONFIG = {\"wsUrl\": \"http://not-ws\"};",
    "window.__APP_CONFIG = {\"wsUrl\": \"ws://a\"",
    "window.__APP_CONFIG = [\"ws://a\"];",
    "window.__APP_CONFIG = {\"wsUrl\": \"ws://a\", }}}};",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ConfabServerConfig) config =
          confab_server_config_parse (bad[i], strlen (bad[i]), &error);
      g_test_message ("%s", bad[i]);
      g_assert_null (config);
      g_assert_error (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_CONFIG);
    }
}

static void
test_token_subject (void)
{
  /* base64url of {"sub": "alice", "room": "r", "x": "??>"} ('-' in it). */
  g_autofree char *sub = confab_room_token_peek_subject (
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiAiYWxpY2UiLCAicm9vbSI6ICJyIiwgIngiOiAiPz8-In0.c2ln");

  g_assert_cmpstr (sub, ==, "alice");
  g_assert_null (confab_room_token_peek_subject ("not-a-jwt"));
  g_assert_null (confab_room_token_peek_subject ("a.!!!!.c"));
  g_assert_null (confab_room_token_peek_subject ("a.e30.c")); /* {} */
  g_assert_null (confab_room_token_peek_subject ("a.b.c.d"));
  g_assert_null (confab_room_token_peek_subject (""));
}

static void
on_fetched (GObject *source, GAsyncResult *result, gpointer data)
{
  GError **error = data;
  ConfabServerConfig *config = confab_server_config_fetch_finish (result, error);

  g_assert_null (config);
  g_assert_nonnull (*error);
}

static void
test_fetch_unreachable (void)
{
  /* Nothing listens there: a fetch error, promptly, not a hang. */
  g_autofree char *url =
      g_strdup_printf ("http://127.0.0.1:%u/config.js", confab_test_free_port ());
  GError *error = NULL;
  gboolean done = FALSE;
  gint64 t0 = g_get_monotonic_time ();

  confab_server_config_fetch_async (url, NULL, on_fetched, &error);
  while (error == NULL && g_get_monotonic_time () - t0 < 15 * G_USEC_PER_SEC)
    g_main_context_iteration (NULL, TRUE);
  (void) done;
  g_assert_error (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_FETCH);
  g_clear_error (&error);
  /* Let the fetch tear its lws context down (an idle callback). */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/invite/good-links", test_good_links);
  g_test_add_func ("/invite/room-names", test_room_names);
  g_test_add_func ("/invite/bad-links", test_bad_links);
  g_test_add_func ("/invite/huge-links", test_huge_links);
  g_test_add_func ("/invite/lobby-url", test_lobby_url);
  g_test_add_func ("/invite/token-subject", test_token_subject);
  g_test_add_func ("/invite/config/parse", test_config_parse);
  g_test_add_func ("/invite/config/bad", test_config_bad);
  g_test_add_func ("/invite/config/fetch-unreachable", test_fetch_unreachable);
  return g_test_run ();
}
