/* confab-room-bus-nats.c: the room bus over NATS, for several relays.
 *
 * One subscription per room per relay (room.{room}.* and the presence subject),
 * not per session. The connection uses no-echo, so a relay's own publications
 * never come back: local sessions are served by a direct call and NATS carries
 * only cross-relay traffic. libnats delivers on its own threads; messages are
 * handed to the GLib main loop through a locked queue and one eventfd, written
 * only when the queue goes from empty to non-empty, and drained in batches. */
#define G_LOG_DOMAIN "confab-relay"

#include "confab-room-bus.h"

#include <glib-unix.h>
#include <limits.h>
#include <nats/nats.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* A room name is at most CONFAB_MAX_NAME_LENGTH (256) characters. */
#define SUBJECT_MAX 320

typedef struct
{
  natsSubscription *room_sub;
  natsSubscription *presence_sub;
} NatsRoom;

typedef struct
{
  ConfabRoomBusKind kind;
  guint64 session_id;
  ConfabRelayBuf *buf;
  char room[];
} NatsItem;

typedef struct
{
  ConfabRoomBus parent;
  natsConnection *nc;
  GHashTable *rooms; /* name -> NatsRoom */

  /* Handoff from libnats threads. */
  GMutex lock;
  GQueue queue;
  int event_fd;
  guint event_source;
} NatsBus;

static void
nats_room_free (gpointer data)
{
  NatsRoom *room = data;

  if (room->room_sub != NULL)
    {
      natsSubscription_Unsubscribe (room->room_sub);
      natsSubscription_Destroy (room->room_sub);
    }
  if (room->presence_sub != NULL)
    {
      natsSubscription_Unsubscribe (room->presence_sub);
      natsSubscription_Destroy (room->presence_sub);
    }
  g_free (room);
}

static void
nats_item_free (NatsItem *item)
{
  confab_relay_buf_unref (item->buf);
  g_free (item);
}

static gboolean
parse_u64 (const char *s, guint64 *out)
{
  char *end = NULL;

  if (*s == '\0' || !g_ascii_isdigit (*s))
    return FALSE;
  *out = g_ascii_strtoull (s, &end, 10);
  return end != NULL && *end == '\0';
}

/* Runs on a libnats thread. */
static void
on_nats_message (natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
  NatsBus *self = closure;
  const char *subject = natsMsg_GetSubject (msg);
  const guint8 *data = (const guint8 *) natsMsg_GetData (msg);
  gsize len = (gsize) natsMsg_GetDataLength (msg);
  const char *room, *last;
  ConfabRoomBusKind kind;
  guint64 session_id = 0;
  gsize room_len;
  NatsItem *item;
  gboolean was_empty;

  if (g_str_has_prefix (subject, "room."))
    room = subject + 5;
  else if (g_str_has_prefix (subject, "confab.presence."))
    room = subject + 16;
  else
    goto out;
  last = strrchr (room, '.');
  if (last == NULL || last == room)
    goto out;
  room_len = (gsize) (last - room);
  last++;

  if (room == subject + 16)
    {
      kind = CONFAB_ROOM_BUS_PRESENCE;
      if (!parse_u64 (last, &session_id))
        goto out;
    }
  else if (strcmp (last, "system") == 0)
    kind = CONFAB_ROOM_BUS_SYSTEM;
  else if (parse_u64 (last, &session_id))
    {
      /* Relays write packet_type (field 1) first; CONGESTION is 9. Clients'
       * CONGESTION never reaches the bus, so this is a relay's. */
      kind = (len >= 2 && data[0] == 0x08 && data[1] == 9) ? CONFAB_ROOM_BUS_CONGESTION
                                                           : CONFAB_ROOM_BUS_DATA;
    }
  else
    goto out;

  item = g_malloc (sizeof (NatsItem) + room_len + 1);
  item->kind = kind;
  item->session_id = session_id;
  item->buf = confab_relay_buf_new_copy (data, len);
  memcpy (item->room, room, room_len);
  item->room[room_len] = '\0';

  g_mutex_lock (&self->lock);
  was_empty = g_queue_is_empty (&self->queue);
  g_queue_push_tail (&self->queue, item);
  g_mutex_unlock (&self->lock);

  if (was_empty)
    {
      guint64 one = 1;
      if (write (self->event_fd, &one, sizeof one) < 0)
        {
          /* EAGAIN means the counter is already non-zero: a wakeup is pending. */
        }
    }

out:
  natsMsg_Destroy (msg);
}

/* Main loop: drain everything queued so far in one go. */
static gboolean
on_queue_ready (gint fd, GIOCondition condition, gpointer data)
{
  NatsBus *self = data;
  GQueue batch = G_QUEUE_INIT;
  guint64 count;
  NatsItem *item;

  if (read (fd, &count, sizeof count) < 0)
    {
      /* Spurious wakeup; the queue is checked anyway. */
    }
  g_mutex_lock (&self->lock);
  batch = self->queue;
  g_queue_init (&self->queue);
  g_mutex_unlock (&self->lock);

  while ((item = g_queue_pop_head (&batch)) != NULL)
    {
      self->parent.deliver (item->room, item->kind, item->session_id, item->buf, TRUE,
                            self->parent.deliver_data);
      nats_item_free (item);
    }
  return G_SOURCE_CONTINUE;
}

static void
nats_subscribe (ConfabRoomBus *bus, const char *room)
{
  NatsBus *self = (NatsBus *) bus;
  char subject[SUBJECT_MAX];
  NatsRoom *r;
  natsStatus s;

  if (g_hash_table_contains (self->rooms, room))
    return;
  r = g_new0 (NatsRoom, 1);
  g_snprintf (subject, sizeof subject, "room.%s.*", room);
  s = natsConnection_Subscribe (&r->room_sub, self->nc, subject, on_nats_message, self);
  if (s != NATS_OK)
    g_warning ("nats: cannot subscribe %s: %s", subject, natsStatus_GetText (s));
  g_snprintf (subject, sizeof subject, "confab.presence.%s.*", room);
  s = natsConnection_Subscribe (&r->presence_sub, self->nc, subject, on_nats_message, self);
  if (s != NATS_OK)
    g_warning ("nats: cannot subscribe %s: %s", subject, natsStatus_GetText (s));
  g_hash_table_insert (self->rooms, g_strdup (room), r);
}

static void
nats_unsubscribe (ConfabRoomBus *bus, const char *room)
{
  NatsBus *self = (NatsBus *) bus;

  g_hash_table_remove (self->rooms, room);
}

static void
nats_publish (ConfabRoomBus *bus,
              const char *room,
              ConfabRoomBusKind kind,
              guint64 session_id,
              ConfabRelayBuf *buf)
{
  NatsBus *self = (NatsBus *) bus;
  char subject[SUBJECT_MAX];

  switch (kind)
    {
      case CONFAB_ROOM_BUS_DATA:
      case CONFAB_ROOM_BUS_CONGESTION:
        g_snprintf (subject, sizeof subject, "room.%s.%" G_GUINT64_FORMAT, room, session_id);
        break;
      case CONFAB_ROOM_BUS_SYSTEM:
        g_snprintf (subject, sizeof subject, "room.%s.system", room);
        break;
      case CONFAB_ROOM_BUS_PRESENCE:
        g_snprintf (subject, sizeof subject, "confab.presence.%s.%" G_GUINT64_FORMAT, room,
                    session_id);
        break;
      default:
        g_assert_not_reached ();
    }

  if (kind != CONFAB_ROOM_BUS_PRESENCE)
    bus->deliver (room, kind, session_id, buf, FALSE, bus->deliver_data);

  /* While NATS is away this buffers up to the reconnect buffer, then fails:
   * remote peers miss packets, local ones do not. Nothing to report per packet. */
  natsConnection_Publish (self->nc, subject, confab_relay_buf_payload (buf), (int) buf->len);
}

static void
nats_publish_health (ConfabRoomBus *bus, const char *subject, const guint8 *data, gsize len)
{
  NatsBus *self = (NatsBus *) bus;

  natsConnection_Publish (self->nc, subject, data, (int) len);
}

static void
nats_free (ConfabRoomBus *bus)
{
  NatsBus *self = (NatsBus *) bus;
  NatsItem *item;

  g_hash_table_destroy (self->rooms);
  if (self->nc != NULL)
    {
      /* What the relay published last (the LEFT of its sessions at shutdown)
       * must reach the other relays. */
      natsConnection_FlushTimeout (self->nc, 500);
      natsConnection_Close (self->nc);
      natsConnection_Destroy (self->nc);
    }
  if (self->event_source != 0)
    g_source_remove (self->event_source);
  while ((item = g_queue_pop_head (&self->queue)) != NULL)
    nats_item_free (item);
  if (self->event_fd >= 0)
    close (self->event_fd);
  g_mutex_clear (&self->lock);
  g_free (self);
}

static const ConfabRoomBusVTable nats_vtable = {
  .subscribe = nats_subscribe,
  .unsubscribe = nats_unsubscribe,
  .publish = nats_publish,
  .publish_health = nats_publish_health,
  .free = nats_free,
};

static void
on_nats_connected (natsConnection *nc, void *closure)
{
  g_message ("nats: connected");
}

static void
on_nats_disconnected (natsConnection *nc, void *closure)
{
  g_message ("nats: disconnected, serving local sessions and retrying");
}

static void
on_nats_reconnected (natsConnection *nc, void *closure)
{
  /* libnats resubscribes every live subscription itself. */
  g_message ("nats: reconnected, room subscriptions restored");
}

ConfabRoomBus *
confab_room_bus_nats_new (const char *url,
                          ConfabRoomBusDeliverFunc deliver,
                          gpointer deliver_data,
                          GError **error)
{
  NatsBus *self = g_new0 (NatsBus, 1);
  natsOptions *opts = NULL;
  natsStatus s;

  self->parent.vtable = &nats_vtable;
  self->parent.deliver = deliver;
  self->parent.deliver_data = deliver_data;
  self->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, nats_room_free);
  g_mutex_init (&self->lock);
  g_queue_init (&self->queue);
  self->event_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self->event_fd < 0)
    {
      g_set_error (error, CONFAB_ROOM_BUS_ERROR, CONFAB_ROOM_BUS_ERROR_CONNECT, "eventfd failed");
      nats_free (&self->parent);
      return NULL;
    }
  self->event_source = g_unix_fd_add (self->event_fd, G_IO_IN, on_queue_ready, self);

  s = natsOptions_Create (&opts);
  if (s == NATS_OK)
    s = natsOptions_SetURL (opts, url);
  if (s == NATS_OK)
    s = natsOptions_SetNoEcho (opts, true);
  if (s == NATS_OK)
    s = natsOptions_SetAllowReconnect (opts, true);
  /* Never give up: a relay outlives nats-server restarts. */
  if (s == NATS_OK)
    s = natsOptions_SetMaxReconnect (opts, INT_MAX);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectWait (opts, 250);
  /* Stale media is worthless after an outage: keep the backlog small. */
  if (s == NATS_OK)
    s = natsOptions_SetReconnectBufSize (opts, 1024 * 1024);
  if (s == NATS_OK)
    s = natsOptions_SetRetryOnFailedConnect (opts, true, on_nats_connected, self);
  if (s == NATS_OK)
    s = natsOptions_SetDisconnectedCB (opts, on_nats_disconnected, self);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectedCB (opts, on_nats_reconnected, self);
  if (s == NATS_OK)
    {
      s = natsConnection_Connect (&self->nc, opts);
      if (s == NATS_NOT_YET_CONNECTED)
        {
          g_message ("nats: %s not reachable yet, retrying in the background", url);
          s = NATS_OK;
        }
      else if (s == NATS_OK)
        g_message ("nats: connected to %s", url);
    }
  natsOptions_Destroy (opts);

  if (s != NATS_OK)
    {
      g_set_error (error, CONFAB_ROOM_BUS_ERROR, CONFAB_ROOM_BUS_ERROR_CONNECT,
                   "cannot use NATS at %s: %s", url, natsStatus_GetText (s));
      nats_free (&self->parent);
      return NULL;
    }
  return &self->parent;
}
