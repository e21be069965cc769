/* confab-rooms.h: the room links the start page keeps and makes: the
 * recent-rooms list (newest first, each once, bounded) and the shareable
 * link of a new meeting on the default server. GTK-free, so unit tests can
 * check them. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CONFAB_MAX_RECENT_ROOMS 5

/* @rooms with @link in front, any older copy of it dropped, at most @max
 * entries. (transfer full) */
GStrv confab_recent_rooms_add (const char *const *rooms, const char *link, guint max);

/* What to share for @room on @server (the default-server setting): an
 * http(s):// origin gives its /meeting/ page (browsers and Confab both open
 * it), a ws(s):// relay a confab:// link to the same host and port. NULL
 * when @server is neither. */
char *confab_meeting_link (const char *server, const char *room);

/* A fresh room name nobody is likely to have: 12 hex digits in two groups. */
char *confab_random_room (void);

G_END_DECLS
