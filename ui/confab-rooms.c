/* confab-rooms.c: recent rooms and new-meeting links (see the header). */
#define G_LOG_DOMAIN "confab-rooms"

#include "confab-rooms.h"

#include <string.h>

GStrv
confab_recent_rooms_add (const char *const *rooms, const char *link, guint max)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  guint n = 0;

  g_return_val_if_fail (link != NULL, NULL);

  if (max == 0)
    return g_strv_builder_end (builder);
  g_strv_builder_add (builder, link);
  n++;
  for (guint i = 0; rooms != NULL && rooms[i] != NULL && n < max; i++)
    if (!g_str_equal (rooms[i], link))
      {
        g_strv_builder_add (builder, rooms[i]);
        n++;
      }
  return g_strv_builder_end (builder);
}

/* A DNS name or an IP address: what may stand in a link we hand out. */
static gboolean
host_is_valid (const char *host)
{
  if (host == NULL || *host == '\0')
    return FALSE;
  if (g_hostname_is_ip_address (host))
    return TRUE;
  for (const char *p = host; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  return TRUE;
}

char *
confab_meeting_link (const char *server, const char *room)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;
  int port;

  g_return_val_if_fail (server != NULL && room != NULL, NULL);

  uri = g_uri_parse (server, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || !host_is_valid (g_uri_get_host (uri)))
    return NULL;
  scheme = g_uri_get_scheme (uri);
  port = g_uri_get_port (uri);
  if (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "https") == 0)
    {
      g_autofree char *origin =
          g_uri_join (G_URI_FLAGS_NONE, scheme, NULL, g_uri_get_host (uri), port, "", NULL, NULL);

      return g_strdup_printf ("%s/meeting/%s", origin, room);
    }
  if (g_ascii_strcasecmp (scheme, "ws") == 0 || g_ascii_strcasecmp (scheme, "wss") == 0)
    {
      const char *host = g_uri_get_host (uri);
      g_autofree char *bracketed =
          strchr (host, ':') != NULL ? g_strdup_printf ("[%s]", host) : g_strdup (host);

      /* confab://host/room means https://host (PROTOCOL.md §6), so a port
       * is kept, and plain ws:// names its 80. */
      if (port < 0 && g_ascii_strcasecmp (scheme, "ws") == 0)
        port = 80;
      if (port < 0)
        return g_strdup_printf ("confab://%s/%s", bracketed, room);
      return g_strdup_printf ("confab://%s:%d/%s", bracketed, port, room);
    }
  return NULL;
}

char *
confab_random_room (void)
{
  return g_strdup_printf ("%08x-%04x", g_random_int (), g_random_int_range (0, 0x10000));
}
