/* confab-relay-room.c: a room's local sessions, presence (JOINED with the
 * directory for newcomers, LEFT after the grace period, MEETING_ENDED) and the
 * fan-out of packets arriving from the room bus.
 *
 * Presence is per (room, user), not per session: a client that holds two
 * sessions for a moment (its election connects over WebSocket and
 * WebTransport at once and closes the loser; a reconnect; a move to another
 * relay) is one participant. PARTICIPANT_JOINED is announced when a user
 * with no session anywhere in the room becomes active; PARTICIPANT_LEFT
 * when the user's last session is gone for the grace period. Sessions that
 * come and go in between are told to the other relays only, on the presence
 * subject (never seen by clients), so every relay knows which users are
 * present. docs/relay.md, "Presence". */
#define G_LOG_DOMAIN "confab-relay"

#include "confab-relay-private.h"

#include <string.h>

static void
pending_leave_free (gpointer data)
{
  ConfabPendingLeave *leave = data;

  if (leave->timer != 0)
    g_source_remove (leave->timer);
  g_free (leave->user_id);
  g_free (leave->display_name);
  g_free (leave);
}

static void
remote_member_free (gpointer data)
{
  ConfabRemoteMember *member = data;

  g_free (member->user_id);
  g_free (member);
}

ConfabRoom *
confab_room_get (ConfabRelay *relay, const char *name, const char *creator_id)
{
  ConfabRoom *room = g_hash_table_lookup (relay->rooms, name);

  if (room != NULL)
    return room;
  room = g_new0 (ConfabRoom, 1);
  room->relay = relay;
  room->name = g_strdup (name);
  g_queue_init (&room->sessions);
  room->pending_leaves = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, pending_leave_free);
  room->remote_members =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, remote_member_free);
  room->start_time_ms = confab_now_epoch_ms ();
  room->creator_id = g_strdup (creator_id);
  g_hash_table_insert (relay->rooms, room->name, room);
  confab_room_bus_subscribe (relay->bus, room->name);
  return room;
}

void
confab_room_free (ConfabRoom *room)
{
  g_hash_table_destroy (room->pending_leaves);
  g_hash_table_destroy (room->remote_members);
  g_free (room->creator_id);
  g_free (room->name);
  g_free (room);
}

void
confab_room_maybe_free (ConfabRoom *room)
{
  ConfabRelay *relay = room->relay;

  if (!g_queue_is_empty (&room->sessions) || g_hash_table_size (room->pending_leaves) > 0)
    return;
  confab_room_bus_unsubscribe (relay->bus, room->name);
  g_hash_table_steal (relay->rooms, room->name);
  confab_room_free (room);
}

/* Is @user_id present through an active session other than @except (0: none),
 * on this relay or on another? Of the other relays' sessions only those we
 * learned about after @newer_than_us count: when a session leaves, the
 * sessions its client moved to are newer than it, while an older one that
 * was never retired is most likely a relay that died without telling. */
static gboolean
user_present (ConfabRoom *room, const char *user_id, guint64 except, gint64 newer_than_us)
{
  GHashTableIter iter;
  gpointer key, value;

  for (GList *l = room->sessions.head; l != NULL; l = l->next)
    {
      ConfabRelaySession *s = l->data;

      if (s->active && !s->observer && s->id != except && strcmp (s->user_id, user_id) == 0)
        return TRUE;
    }
  g_hash_table_iter_init (&iter, room->remote_members);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      ConfabRemoteMember *member = value;

      if (*(guint64 *) key != except && member->since_us > newer_than_us &&
          strcmp (member->user_id, user_id) == 0)
        return TRUE;
    }
  return FALSE;
}

/* Distinct users present in the whole room (meeting packets only, never per
 * media packet). */
static gint64
count_present_users (ConfabRoom *room)
{
  g_autoptr (GHashTable) users = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer value;

  for (GList *l = room->sessions.head; l != NULL; l = l->next)
    {
      ConfabRelaySession *s = l->data;

      if (s->active && !s->observer)
        g_hash_table_add (users, s->user_id);
    }
  g_hash_table_iter_init (&iter, room->remote_members);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_hash_table_add (users, ((ConfabRemoteMember *) value)->user_id);
  return g_hash_table_size (users);
}

ConfabRelayBuf *
confab_room_meeting_packet (ConfabRoom *room,
                            int event_type,
                            const char *user_id,
                            const char *display_name,
                            guint64 session_id)
{
  ConfabMeetingPacket m = CONFAB__MEETING_PACKET__INIT;
  g_autofree char *message = NULL;
  g_autoptr (GBytes) bytes = NULL;

  m.event_type = event_type;
  m.room_id = room->name;
  m.start_time_ms = room->start_time_ms;
  m.session_id = session_id;
  m.participant_count = count_present_users (room);
  if (user_id != NULL)
    {
      m.target_user_id.data = (guint8 *) user_id;
      m.target_user_id.len = strlen (user_id);
      display_name = display_name != NULL ? display_name : user_id;
      m.display_name.data = (guint8 *) display_name;
      m.display_name.len = strlen (display_name);
    }
  if (event_type == CONFAB_MEETING_PARTICIPANT_JOINED)
    message = g_strdup_printf ("%s has joined the meeting", user_id);
  else if (event_type == CONFAB_MEETING_PARTICIPANT_LEFT)
    message = g_strdup_printf ("%s has left the meeting", user_id);
  else if (event_type == CONFAB_MEETING_ENDED)
    message = g_strdup ("The meeting has ended");
  m.message = message;
  bytes = confab_packet_new_meeting (&m);
  return confab_relay_buf_new_from_bytes (bytes);
}

ConfabPendingLeave *
confab_room_take_pending_leave (ConfabRoom *room, const char *user_id)
{
  ConfabPendingLeave *leave = NULL;

  if (!g_hash_table_steal_extended (room->pending_leaves, user_id, NULL, (gpointer *) &leave))
    return NULL;
  g_clear_handle_id (&leave->timer, g_source_remove);
  return leave;
}

static void
maybe_end_meeting (ConfabRoom *room)
{
  g_autoptr (ConfabRelayBuf) buf = NULL;

  if (room->member_count > 0 || g_hash_table_size (room->pending_leaves) > 0 ||
      g_hash_table_size (room->remote_members) > 0)
    return;
  /* A member who is reconnecting holds the room open. */
  for (GList *l = room->sessions.head; l != NULL; l = l->next)
    if (((ConfabRelaySession *) l->data)->resumed != NULL)
      return;
  g_message ("meeting ended room=%s", room->name);
  buf = confab_room_meeting_packet (room, CONFAB_MEETING_ENDED, NULL, NULL, 0);
  confab_room_bus_publish (room->relay->bus, room->name, CONFAB_ROOM_BUS_SYSTEM, 0, buf);
}

/* Tells the other relays only (presence subject of @session_id itself, which
 * no client of theirs listens to) that a session of @user_id came or went
 * while the user stays present: their member lists stay right and clients
 * hear nothing. */
static void
publish_quietly (ConfabRoom *room,
                 int event_type,
                 const char *user_id,
                 const char *display_name,
                 guint64 session_id)
{
  g_autoptr (ConfabRelayBuf) buf =
      confab_room_meeting_packet (room, event_type, user_id, display_name, session_id);

  confab_room_bus_publish (room->relay->bus, room->name, CONFAB_ROOM_BUS_PRESENCE, session_id, buf);
}

/* Publishes PARTICIPANT_LEFT for @leave (or only retires its session id
 * when the user is present after all) and frees it. */
static void
announce_leave (ConfabRoom *room, ConfabPendingLeave *leave)
{
  g_autoptr (ConfabRelayBuf) buf = NULL;

  if (user_present (room, leave->user_id, leave->session_id, leave->active_since_us))
    {
      publish_quietly (room, CONFAB_MEETING_PARTICIPANT_LEFT, leave->user_id, leave->display_name,
                       leave->session_id);
      g_hash_table_remove (room->pending_leaves, leave->user_id);
      return;
    }
  g_message ("left room=%s user=%s session=%" G_GUINT64_FORMAT, room->name, leave->user_id,
             leave->session_id);
  buf = confab_room_meeting_packet (room, CONFAB_MEETING_PARTICIPANT_LEFT, leave->user_id,
                                    leave->display_name, leave->session_id);
  g_hash_table_remove (room->pending_leaves, leave->user_id);
  confab_room_bus_publish (room->relay->bus, room->name, CONFAB_ROOM_BUS_SYSTEM, 0, buf);
}

/* The user of @leave did not leave after all (back on another session, here
 * or on another relay): its old session id is retired quietly. Frees @leave,
 * which must not be in pending_leaves any more. */
static void
retire_leave (ConfabRoom *room, ConfabPendingLeave *leave)
{
  publish_quietly (room, CONFAB_MEETING_PARTICIPANT_LEFT, leave->user_id, leave->display_name,
                   leave->session_id);
  pending_leave_free (leave);
}

static gboolean
on_leave_grace_over (gpointer data)
{
  ConfabPendingLeave *leave = data;
  ConfabRoom *room = leave->room;
  ConfabRelay *relay = room->relay;

  leave->timer = 0;
  announce_leave (room, leave);
  maybe_end_meeting (room);
  confab_room_maybe_free (room);
  confab_relay_drain_progress (relay);
  return G_SOURCE_REMOVE;
}

static void
schedule_leave (ConfabRoom *room, ConfabPendingLeave *leave)
{
  ConfabPendingLeave *older = confab_room_take_pending_leave (room, leave->user_id);

  /* Two sessions of one user left: the newer leave speaks for the user. */
  if (older != NULL)
    retire_leave (room, older);
  leave->room = room;
  leave->timer = g_timeout_add (room->relay->config.leave_grace_ms, on_leave_grace_over, leave);
  g_hash_table_insert (room->pending_leaves, leave->user_id, leave);
}

void
confab_room_session_activated (ConfabRoom *room, ConfabRelaySession *session)
{
  ConfabRoomBus *bus = room->relay->bus;
  g_autoptr (GHashTable) introduced = g_hash_table_new (g_str_hash, g_str_equal);
  ConfabPendingLeave *leave;

  /* Introduce every user already present, one PARTICIPANT_JOINED each (by
   * their newest session), but not the newcomer's own user. */
  g_hash_table_add (introduced, session->user_id);
  for (GList *l = room->sessions.tail; l != NULL; l = l->prev)
    {
      ConfabRelaySession *member = l->data;
      g_autoptr (ConfabRelayBuf) buf = NULL;

      if (member == session || !member->active || member->observer ||
          !g_hash_table_add (introduced, member->user_id))
        continue;
      buf = confab_room_meeting_packet (room, CONFAB_MEETING_PARTICIPANT_JOINED, member->user_id,
                                        member->display_name, member->id);
      confab_relay_session_enqueue (session, buf, 0);
    }
  /* Members on other relays are introduced by their relays. */
  {
    g_autoptr (ConfabRelayBuf) query = confab_relay_buf_new (0);
    confab_room_bus_publish (bus, room->name, CONFAB_ROOM_BUS_PRESENCE, session->id, query);
  }

  if (session->observer)
    return;
  room->member_count++;
  /* A pending leave of this user: taken over at connect (a reconnect), or
   * left by the path this client just switched away from. Either way the
   * user never left: neither LEFT nor JOINED. */
  leave = g_steal_pointer (&session->resumed);
  if (leave == NULL)
    leave = confab_room_take_pending_leave (room, session->user_id);
  if (leave != NULL)
    retire_leave (room, leave);
  else if (!user_present (room, session->user_id, session->id, 0))
    {
      g_autoptr (ConfabRelayBuf) buf =
          confab_room_meeting_packet (room, CONFAB_MEETING_PARTICIPANT_JOINED, session->user_id,
                                      session->display_name, session->id);
      g_message ("joined room=%s user=%s session=%" G_GUINT64_FORMAT, room->name, session->user_id,
                 session->id);
      confab_room_bus_publish (bus, room->name, CONFAB_ROOM_BUS_SYSTEM, session->id, buf);
      return;
    }
  /* The user was already present: another session of theirs, here or on
   * another relay. Only the relays learn about this one. */
  publish_quietly (room, CONFAB_MEETING_PARTICIPANT_JOINED, session->user_id, session->display_name,
                   session->id);
}

/* A session of @user_id that is connected but not active yet (the path a
 * client is switching to), to hold the user's leave; or NULL. */
static ConfabRelaySession *
find_heir (ConfabRoom *room, const char *user_id)
{
  for (GList *l = room->sessions.tail; l != NULL; l = l->prev)
    {
      ConfabRelaySession *s = l->data;

      if (!s->active && !s->observer && !s->killing && s->resumed == NULL &&
          strcmp (s->user_id, user_id) == 0)
        return s;
    }
  return NULL;
}

void
confab_room_session_closed (ConfabRoom *room, ConfabRelaySession *session)
{
  ConfabPendingLeave *leave;
  ConfabRelaySession *heir;

  if (session->resumed != NULL)
    {
      /* Came back but never became active: the old session's leave stands. */
      schedule_leave (room, g_steal_pointer (&session->resumed));
      return;
    }
  if (!session->active || session->observer)
    return;
  room->member_count--;
  /* The user is still here through another session. */
  if (user_present (room, session->user_id, session->id, session->active_since_us))
    {
      publish_quietly (room, CONFAB_MEETING_PARTICIPANT_LEFT, session->user_id,
                       session->display_name, session->id);
      return;
    }
  leave = g_new0 (ConfabPendingLeave, 1);
  leave->room = room;
  leave->user_id = g_strdup (session->user_id);
  leave->display_name = g_strdup (session->display_name);
  leave->session_id = session->id;
  leave->active_since_us = session->active_since_us;
  /* A client switching paths closes the old one before its next packet
   * activates the new one: the new session holds the leave, as a
   * reconnecting one does, until it activates (nothing announced) or closes
   * (the leave is scheduled then). */
  heir = find_heir (room, session->user_id);
  if (heir != NULL)
    {
      heir->resumed = leave;
      return;
    }
  schedule_leave (room, leave);
}

void
confab_room_flush_pending_leaves (ConfabRoom *room)
{
  GHashTableIter iter;
  gpointer value;

  /* Sessions still reconnecting here will not get the chance. */
  for (GList *l = room->sessions.head; l != NULL; l = l->next)
    {
      ConfabRelaySession *s = l->data;

      if (s->resumed != NULL)
        schedule_leave (room, g_steal_pointer (&s->resumed));
    }
  while (g_hash_table_size (room->pending_leaves) > 0)
    {
      g_hash_table_iter_init (&iter, room->pending_leaves);
      if (!g_hash_table_iter_next (&iter, NULL, &value))
        break;
      g_clear_handle_id (&((ConfabPendingLeave *) value)->timer, g_source_remove);
      announce_leave (room, value);
    }
  maybe_end_meeting (room);
}

/* A presence or system packet from another relay: keep the members over
 * there (by session, with their user), so MEETING_ENDED means the last member
 * of the whole room left and presence is per user across relays. */
static gint64
track_remote_member (ConfabRoom *room, ConfabRelayBuf *buf)
{
  ConfabArena *arena = room->relay->arena;
  ConfabPacketWrapper *w;
  ConfabMeetingPacket *m;
  ConfabPendingLeave *leave;
  ConfabRemoteMember *member;
  g_autofree char *user_id = NULL;
  gint64 known_since = 0;
  guint64 id;

  confab_arena_reset (arena);
  w = confab__packet_wrapper__unpack (confab_arena_allocator (arena), buf->len,
                                      confab_relay_buf_payload (buf));
  if (w == NULL || w->packet_type != CONFAB_PACKET_MEETING)
    return 0;
  m = confab__meeting_packet__unpack (confab_arena_allocator (arena), w->data.len,
                                      w->data.data != NULL ? w->data.data : (const guint8 *) "");
  if (m == NULL || m->session_id == 0)
    return 0;
  id = m->session_id;
  if (m->event_type == CONFAB_MEETING_PARTICIPANT_LEFT)
    {
      g_hash_table_remove (room->remote_members, &id);
      return 0;
    }
  if (m->event_type != CONFAB_MEETING_PARTICIPANT_JOINED)
    return 0;
  user_id = g_strndup ((const char *) m->target_user_id.data, m->target_user_id.len);
  /* A user this relay is about to announce as gone is present over there
   * (moved to another relay): the leave is retired quietly. */
  leave = confab_room_take_pending_leave (room, user_id);
  member = g_hash_table_lookup (room->remote_members, &id);
  /* Presence answers repeat members we know: keep when we first heard. */
  if (member != NULL)
    known_since = member->since_us;
  else
    {
      member = g_new0 (ConfabRemoteMember, 1);
      member->user_id = g_strdup (user_id);
      member->since_us = g_get_monotonic_time ();
      g_hash_table_insert (room->remote_members, g_memdup2 (&id, sizeof id), member);
    }
  if (leave != NULL)
    {
      retire_leave (room, leave);
      maybe_end_meeting (room);
      confab_relay_drain_progress (room->relay);
    }
  return known_since;
}

static ConfabRelaySession *
find_session (ConfabRoom *room, guint64 id)
{
  for (GList *l = room->sessions.head; l != NULL; l = l->next)
    if (((ConfabRelaySession *) l->data)->id == id)
      return l->data;
  return NULL;
}

void
confab_room_deliver (const char *room_name,
                     ConfabRoomBusKind kind,
                     guint64 session_id,
                     ConfabRelayBuf *buf,
                     gboolean remote,
                     gpointer user_data)
{
  ConfabRelay *relay = user_data;
  ConfabRoom *room = g_hash_table_lookup (relay->rooms, room_name);
  ConfabRelaySession *target;

  if (room == NULL)
    return;

  switch (kind)
    {
      case CONFAB_ROOM_BUS_DATA:
        /* The hot path: every active session but the sender's own subject. */
        for (GList *l = room->sessions.head; l != NULL; l = l->next)
          {
            ConfabRelaySession *s = l->data;
            if (s->active && s->id != session_id)
              confab_relay_session_enqueue (s, buf, session_id);
          }
        break;

      case CONFAB_ROOM_BUS_SYSTEM:
        if (remote)
          track_remote_member (room, buf);
        for (GList *l = room->sessions.head; l != NULL; l = l->next)
          {
            ConfabRelaySession *s = l->data;
            if (s->active && s->id != session_id)
              confab_relay_session_enqueue (s, buf, 0);
          }
        break;

      case CONFAB_ROOM_BUS_CONGESTION:
        target = find_session (room, session_id);
        if (target != NULL)
          confab_relay_session_enqueue (target, buf, 0);
        break;

      case CONFAB_ROOM_BUS_PRESENCE:
        if (!remote)
          break;
        if (buf->len == 0)
          {
            g_autoptr (GHashTable) introduced = g_hash_table_new (g_str_hash, g_str_equal);

            /* Another relay's newcomer asks who is here: each user once, by
             * their newest session. */
            for (GList *l = room->sessions.tail; l != NULL; l = l->prev)
              {
                ConfabRelaySession *s = l->data;
                g_autoptr (ConfabRelayBuf) joined = NULL;
                if (!s->active || s->observer || !g_hash_table_add (introduced, s->user_id))
                  continue;
                joined = confab_room_meeting_packet (room, CONFAB_MEETING_PARTICIPANT_JOINED,
                                                     s->user_id, s->display_name, s->id);
                confab_room_bus_publish (relay->bus, room->name, CONFAB_ROOM_BUS_PRESENCE,
                                         session_id, joined);
              }
            break;
          }
        {
          gint64 known_since = track_remote_member (room, buf);

          target = find_session (room, session_id);
          /* The answer to our newcomer's question may name a member whose
           * system JOINED reached the newcomer already (it joined over there
           * after the question left): once is enough. */
          if (target != NULL &&
              !(known_since != 0 && target->active && known_since >= target->active_since_us))
            confab_relay_session_enqueue (target, buf, 0);
        }
        break;

      default:
        break;
    }
}
