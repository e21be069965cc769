/* test-chat.c: the [confab] chat message (docs/protocol-extensions.md): what
 * a sender may send, what a receiver accepts, and chat between two real
 * confab-cli runs through the real relay, with a raw client sending bad
 * chat packets in between. */
#define G_LOG_DOMAIN "test-chat"

#include "confab-chat.h"
#include "confab-test-cli.h"
#include "confab-test-util.h"
#include "confab-test-ws.h"

#include <string.h>

static void
assert_text (const char *text, gssize len, int expected_code)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = confab_chat_text_check (text, len, &error);

  if (expected_code < 0)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  else
    {
      g_assert_error (error, CONFAB_CHAT_ERROR, expected_code);
      g_assert_false (ok);
    }
}

static void
test_text_check (void)
{
  g_autofree char *max = g_strnfill (CONFAB_CHAT_MAX_TEXT, 'a');
  g_autofree char *over = g_strnfill (CONFAB_CHAT_MAX_TEXT + 1, 'a');
  /* 4095 bytes of 'a' and one 3-byte character: 4098 bytes, 4096 characters. */
  g_autofree char *multibyte_over = g_strconcat (max + 1, "✓", NULL);

  assert_text ("hello", -1, -1);
  assert_text ("Grüße ✓ 你好", -1, -1);
  assert_text ("two\nlines\tand a tab", -1, -1);
  assert_text (max, -1, -1);
  assert_text (over, -1, CONFAB_CHAT_ERROR_TOO_LONG);
  assert_text (multibyte_over, -1, CONFAB_CHAT_ERROR_TOO_LONG);
  assert_text ("", -1, CONFAB_CHAT_ERROR_EMPTY);
  assert_text (" \n\t ", -1, CONFAB_CHAT_ERROR_EMPTY);
  assert_text ("\xc3\x28", -1, CONFAB_CHAT_ERROR_INVALID);     /* broken UTF-8 */
  assert_text ("\xed\xa0\x80", -1, CONFAB_CHAT_ERROR_INVALID); /* a surrogate */
  assert_text ("a\0b", 3, CONFAB_CHAT_ERROR_INVALID);          /* embedded NUL */
  assert_text ("red \x1b[31m", -1, CONFAB_CHAT_ERROR_INVALID); /* terminal escape */
  assert_text ("bell\a", -1, CONFAB_CHAT_ERROR_INVALID);
  assert_text ("carriage\rreturn", -1, CONFAB_CHAT_ERROR_INVALID);
  assert_text ("c1 \xc2\x85", -1, CONFAB_CHAT_ERROR_INVALID); /* U+0085, a C1 control */
  /* An explicit length counts, not the NUL. */
  assert_text ("hello world", 5, -1);
}

/* Packs, unpacks like a receiver, and says whether it would be shown. */
static gboolean
round_trip (const char *id, const char *text, const char *name, ConfabChatMessage **out)
{
  g_autoptr (GBytes) packed = confab_chat_message_pack (id, text, name, 1234);
  ConfabChatMessage *message = confab__chat_message__unpack (NULL, g_bytes_get_size (packed),
                                                             g_bytes_get_data (packed, NULL));
  gboolean valid;

  g_assert_nonnull (message);
  valid = confab_chat_message_is_valid (message);
  if (out != NULL)
    *out = message;
  else
    confab__chat_message__free_unpacked (message, NULL);
  return valid;
}

static void
test_message_valid (void)
{
  g_autofree char *long_name = g_strnfill (CONFAB_CHAT_MAX_DISPLAY_NAME + 1, 'n');
  g_autofree char *max_name = g_strnfill (CONFAB_CHAT_MAX_DISPLAY_NAME, 'n');
  g_autofree char *long_id = g_strnfill (CONFAB_CHAT_MAX_ID + 1, 'i');
  g_autofree char *over = g_strnfill (CONFAB_CHAT_MAX_TEXT + 1, 'a');
  ConfabChatMessage *message = NULL;

  g_assert_true (round_trip ("id-1", "hi ✓", "Ann Tester", &message));
  g_assert_cmpstr (message->id, ==, "id-1");
  g_assert_cmpstr (message->text, ==, "hi ✓");
  g_assert_cmpstr (message->display_name, ==, "Ann Tester");
  g_assert_cmpuint (message->timestamp_ms, ==, 1234);
  confab__chat_message__free_unpacked (message, NULL);

  g_assert_true (round_trip ("id", "x", "", NULL)); /* no name: the receiver uses the peer's */
  g_assert_true (round_trip ("id", "x", max_name, NULL));
  g_assert_false (round_trip ("id", "x", long_name, NULL));
  g_assert_false (round_trip ("id", "x", "two\nlines", NULL));
  g_assert_false (round_trip ("", "x", "n", NULL));
  g_assert_false (round_trip ("has space", "x", "n", NULL));
  g_assert_false (round_trip (long_id, "x", "n", NULL));
  g_assert_false (round_trip ("id", "", "n", NULL));
  g_assert_false (round_trip ("id", over, "n", NULL));
  g_assert_false (round_trip ("id", "\x1b]0;owned\a", "n", NULL));
  g_assert_false (confab_chat_message_is_valid (NULL));
}

/* ---- through the relay ------------------------------------------------------ */

static GBytes *
chat_packet (const char *user, const char *id, const char *text)
{
  g_autoptr (GBytes) message = confab_chat_message_pack (id, text, user, confab_now_epoch_ms ());

  return confab_packet_wrap (CONFAB_PACKET_CHAT, user, 0, g_bytes_get_data (message, NULL),
                             g_bytes_get_size (message));
}

/* Reads until PARTICIPANT_JOINED names @user; bounded by the relay's pace. */
static void
wait_joined (ConfabTestWs *ws, const char *user)
{
  for (guint i = 0; i < 200; i++)
    {
      ConfabPacketWrapper *packet = confab_test_ws_recv_packet (ws, 10000);
      ConfabMeetingPacket *meeting;
      gboolean found = FALSE;

      g_assert_nonnull (packet);
      meeting = confab_test_meeting_of (packet);
      if (meeting != NULL)
        {
          found = meeting->event_type == CONFAB_MEETING_PARTICIPANT_JOINED &&
                  meeting->target_user_id.len == strlen (user) &&
                  memcmp (meeting->target_user_id.data, user, strlen (user)) == 0;
          confab__meeting_packet__free_unpacked (meeting, NULL);
        }
      confab_test_packet_free (packet);
      if (found)
        return;
    }
  g_assert_not_reached ();
}

static void
test_cli_to_cli (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *room = confab_test_unique_room ("chat");
  g_autofree char *url_bob = g_strdup_printf ("%s/lobby/bob/%s", relay->ws_base, room);
  g_autofree char *url_alice = g_strdup_printf ("%s/lobby/alice/%s", relay->ws_base, room);
  g_autofree char *over = g_strnfill (CONFAB_CHAT_MAX_TEXT + 1, 'a');
  g_autoptr (GBytes) heartbeat = NULL;
  g_autoptr (GBytes) bad_utf8 = NULL;
  g_autoptr (GBytes) too_long = NULL;
  g_autoptr (GBytes) escape = NULL;
  g_autoptr (GBytes) good = NULL;
  g_autoptr (GBytes) garbage = NULL;
  g_autoptr (ConfabTestCli) bob = NULL;
  g_autoptr (ConfabTestCli) alice = NULL;
  ConfabTestWs *mallory;
  ConfabTestCli *runs[3];
  JsonObject *chat;
  JsonArray *received;
  g_autofree char *alice_id = NULL;
  gboolean got_mallory = FALSE;
  guint n_alice = 0;

  bob = confab_test_cli_start ("join", url_bob, "--video", "none", "--audio", "none", "--transport",
                               "websocket", "--duration", "5", NULL);
  /* A raw client in the room: it sees bob arrive, then sends chat packets
   * no Confab client would, and one good one. */
  mallory = confab_test_ws_join (relay->ws_port, "mallory", room);
  heartbeat = confab_test_media_packet (CONFAB_MEDIA_HEARTBEAT, "mallory", "", 0);
  g_assert_true (confab_test_ws_send_bytes (mallory, heartbeat));
  wait_joined (mallory, "bob");

  bad_utf8 = chat_packet ("mallory", "m-1", "\xc3\x28");
  too_long = chat_packet ("mallory", "m-2", over);
  escape = chat_packet ("mallory", "m-3", "\x1b[2J");
  garbage =
      confab_packet_wrap (CONFAB_PACKET_CHAT, "mallory", 0, (const guint8 *) "\xff\xff\xff", 3);
  good = chat_packet ("mallory", "m-4", "plain words");
  g_assert_true (confab_test_ws_send_bytes (mallory, bad_utf8));
  g_assert_true (confab_test_ws_send_bytes (mallory, too_long));
  g_assert_true (confab_test_ws_send_bytes (mallory, escape));
  g_assert_true (confab_test_ws_send_bytes (mallory, garbage));
  g_assert_true (confab_test_ws_send_bytes (mallory, good));

  alice =
      confab_test_cli_start ("join", url_alice, "--video", "none", "--audio", "none", "--transport",
                             "websocket", "--duration", "1", "--chat", "hello from alice", "--chat",
                             "zweite Nachricht ✓\nmit Zeile", NULL);
  runs[0] = bob;
  runs[1] = alice;
  runs[2] = NULL;
  confab_test_cli_wait_all (runs, 30000);
  confab_test_ws_free (mallory);

  g_assert_cmpint (bob->status, ==, 0);
  g_assert_cmpint (alice->status, ==, 0);
  g_assert_nonnull (bob->summary);
  g_assert_nonnull (alice->summary);

  /* Alice sent two; the relay never echoes them, so she got none of her own
   * (mallory's may or may not reach her: it races with her join). */
  chat = json_object_get_object_member (alice->summary, "chat");
  g_assert_cmpint (json_object_get_int_member (chat, "sent"), ==, 2);
  received = json_object_get_array_member (chat, "received");
  for (guint i = 0; i < json_array_get_length (received); i++)
    g_assert_cmpstr (
        json_object_get_string_member (json_array_get_object_element (received, i), "user_id"), ==,
        "mallory");

  /* Bob got mallory's one good message and alice's two, hers in order; the
   * bad ones were dropped without harm (bob exited 0 with a summary). */
  chat = json_object_get_object_member (bob->summary, "chat");
  received = json_object_get_array_member (chat, "received");
  g_assert_cmpuint (json_array_get_length (received), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      JsonObject *m = json_array_get_object_element (received, i);
      const char *user = json_object_get_string_member (m, "user_id");

      if (g_str_equal (user, "mallory"))
        {
          g_assert_cmpstr (json_object_get_string_member (m, "text"), ==, "plain words");
          g_assert_cmpstr (json_object_get_string_member (m, "id"), ==, "m-4");
          g_assert_false (got_mallory);
          got_mallory = TRUE;
          continue;
        }
      g_assert_cmpstr (user, ==, "alice");
      g_assert_cmpstr (json_object_get_string_member (m, "display_name"), ==, "alice");
      g_assert_cmpuint (confab_test_json_session_id (m), ==,
                        confab_test_json_session_id (alice->summary));
      g_assert_cmpstr (json_object_get_string_member (m, "text"), ==,
                       n_alice == 0 ? "hello from alice" : "zweite Nachricht ✓\nmit Zeile");
      g_assert_cmpstr (json_object_get_string_member (m, "id"), !=, alice_id);
      g_free (alice_id);
      alice_id = g_strdup (json_object_get_string_member (m, "id"));
      n_alice++;
    }
  g_assert_true (got_mallory);
  g_assert_cmpuint (n_alice, ==, 2);
}

static void
test_cli_rejects_bad_chat (void)
{
  g_autofree char *over = g_strnfill (CONFAB_CHAT_MAX_TEXT + 1, 'a');
  g_autoptr (ConfabTestCli) blank = NULL;
  g_autoptr (ConfabTestCli) longer = NULL;
  ConfabTestCli *runs[3];

  /* Usage errors before anything connects (port 1 would refuse anyway). */
  blank = confab_test_cli_start ("join", "ws://127.0.0.1:1/lobby/a/b", "--chat", "  ", NULL);
  longer = confab_test_cli_start ("join", "ws://127.0.0.1:1/lobby/a/b", "--chat", over, NULL);
  runs[0] = blank;
  runs[1] = longer;
  runs[2] = NULL;
  confab_test_cli_wait_all (runs, 20000);
  g_assert_cmpint (blank->status, ==, 2);
  g_assert_nonnull (strstr (blank->err, "--chat"));
  g_assert_cmpint (longer->status, ==, 2);
  g_assert_nonnull (strstr (longer->err, "4096"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/chat/text-check", test_text_check);
  g_test_add_func ("/chat/message-valid", test_message_valid);
  if (g_getenv ("CONFAB_CLI") != NULL)
    {
      g_test_add_func ("/chat/cli/two-clients", test_cli_to_cli);
      g_test_add_func ("/chat/cli/rejects-bad-chat", test_cli_rejects_bad_chat);
    }
  return g_test_run ();
}
