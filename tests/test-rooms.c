/* test-rooms.c: the start page's room links (ui/confab-rooms.c): recent rooms
 * newest first, each once and bounded; new-meeting links for every kind of
 * default server, and none for a server that is not one. */
#define G_LOG_DOMAIN "test-rooms"

#include "confab-rooms.h"

static void
assert_strv (GStrv got, const char *const *expected)
{
  g_autofree char *joined_got = g_strjoinv (" | ", got);
  g_autofree char *joined_expected = g_strjoinv (" | ", (GStrv) expected);

  g_assert_cmpstr (joined_got, ==, joined_expected);
}

static void
test_recent_rooms (void)
{
  const char *empty[] = { NULL };
  const char *three[] = { "c", "b", "a", NULL };
  const char *full[] = { "e", "d", "c", "b", "a", NULL };
  g_auto (GStrv) first = confab_recent_rooms_add (NULL, "a", 5);
  g_auto (GStrv) from_empty = confab_recent_rooms_add (empty, "a", 5);
  g_auto (GStrv) again = confab_recent_rooms_add (three, "b", 5);
  g_auto (GStrv) newest_again = confab_recent_rooms_add (three, "c", 5);
  g_auto (GStrv) bounded = confab_recent_rooms_add (full, "f", 5);
  g_auto (GStrv) bounded_again = confab_recent_rooms_add (full, "a", 5);
  g_auto (GStrv) none = confab_recent_rooms_add (three, "x", 0);

  assert_strv (first, (const char *[]){ "a", NULL });
  assert_strv (from_empty, (const char *[]){ "a", NULL });
  assert_strv (again, (const char *[]){ "b", "c", "a", NULL });
  assert_strv (newest_again, (const char *[]){ "c", "b", "a", NULL });
  assert_strv (bounded, (const char *[]){ "f", "e", "d", "c", "b", NULL });
  assert_strv (bounded_again, (const char *[]){ "a", "e", "d", "c", "b", NULL });
  assert_strv (none, (const char *[]){ NULL });
}

static void
assert_link (const char *server, const char *expected)
{
  g_autofree char *link = confab_meeting_link (server, "abc-123");

  g_assert_cmpstr (link, ==, expected);
}

static void
test_meeting_link (void)
{
  assert_link ("https://meet.example", "https://meet.example/meeting/abc-123");
  assert_link ("https://meet.example/", "https://meet.example/meeting/abc-123");
  assert_link ("https://meet.example:8443/some/path", "https://meet.example:8443/meeting/abc-123");
  assert_link ("http://127.0.0.1:8080", "http://127.0.0.1:8080/meeting/abc-123");
  assert_link ("ws://127.0.0.1:8080", "confab://127.0.0.1:8080/abc-123");
  assert_link ("ws://relay.example", "confab://relay.example:80/abc-123");
  assert_link ("wss://relay.example", "confab://relay.example/abc-123");
  assert_link ("wss://relay.example:4443/lobby", "confab://relay.example:4443/abc-123");
  assert_link ("ws://[::1]:8080", "confab://[::1]:8080/abc-123");
  /* Not a server: no link, never a crash. */
  assert_link ("", NULL);
  assert_link ("relay.example", NULL);
  assert_link ("ftp://relay.example", NULL);
  assert_link ("https://", NULL);
  assert_link ("ws://bad host/", NULL);
}

static void
test_random_room (void)
{
  g_autofree char *a = confab_random_room ();
  g_autofree char *b = confab_random_room ();

  g_assert_true (g_regex_match_simple ("^[0-9a-f]{8}-[0-9a-f]{4}$", a, 0, 0));
  g_assert_cmpstr (a, !=, b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/app/rooms/recent", test_recent_rooms);
  g_test_add_func ("/app/rooms/meeting-link", test_meeting_link);
  g_test_add_func ("/app/rooms/random", test_random_room);
  return g_test_run ();
}
