/* confab-room-bus.h: how one room's packets reach every session of that room,
 * whichever relay it is connected to (PROTOCOL.md §4.5). The relay publishes
 * each packet once; the bus calls the deliver function for the local sessions
 * (synchronously) and, for NATS, carries it to the other relays, whose buses call
 * their deliver function from the main loop. Subjects: room.{room}.{session_id},
 * room.{room}.system, and the relay-to-relay presence subject
 * confab.presence.{room}.{session_id} (docs/relay.md). */
#pragma once

#include <glib.h>

#include "confab-relay-buf.h"

G_BEGIN_DECLS

typedef enum
{
  /* A client's packet: room.{room}.{session_id}; not delivered back to its sender. */
  CONFAB_ROOM_BUS_DATA,
  /* A relay event (JOINED, LEFT, MEETING_ENDED): room.{room}.system. */
  CONFAB_ROOM_BUS_SYSTEM,
  /* CONGESTION about sender @session_id: room.{room}.{session_id}, delivered
   * only to that session. */
  CONFAB_ROOM_BUS_CONGESTION,
  /* Relay-to-relay presence for session @session_id: an empty payload asks the
   * other relays to introduce their members; a non-empty one is a
   * PARTICIPANT_JOINED for that session only. */
  CONFAB_ROOM_BUS_PRESENCE,
} ConfabRoomBusKind;

typedef struct _ConfabRoomBus ConfabRoomBus;

/* @remote: the packet came from another relay. Main thread only. */
typedef void (*ConfabRoomBusDeliverFunc) (const char *room,
                                          ConfabRoomBusKind kind,
                                          guint64 session_id,
                                          ConfabRelayBuf *buf,
                                          gboolean remote,
                                          gpointer user_data);

typedef struct
{
  void (*subscribe) (ConfabRoomBus *bus, const char *room);
  void (*unsubscribe) (ConfabRoomBus *bus, const char *room);
  void (*publish) (ConfabRoomBus *bus,
                   const char *room,
                   ConfabRoomBusKind kind,
                   guint64 session_id,
                   ConfabRelayBuf *buf);
  /* @subject: health.diagnostics.{region}.{service}.{server_id}, service
   * being the path the packet came by (PROTOCOL.md §4.3). */
  void (*publish_health) (ConfabRoomBus *bus, const char *subject, const guint8 *data, gsize len);
  void (*free) (ConfabRoomBus *bus);
} ConfabRoomBusVTable;

struct _ConfabRoomBus
{
  const ConfabRoomBusVTable *vtable;
  ConfabRoomBusDeliverFunc deliver;
  gpointer deliver_data;
};

#define CONFAB_ROOM_BUS_ERROR (confab_room_bus_error_quark ())
typedef enum
{
  CONFAB_ROOM_BUS_ERROR_CONNECT,
} ConfabRoomBusError;
GQuark confab_room_bus_error_quark (void);

/* In-process bus: one relay, delivery is a function call. */
ConfabRoomBus *confab_room_bus_local_new (ConfabRoomBusDeliverFunc deliver, gpointer deliver_data);

/* NATS bus. Never fails for an unreachable server: it keeps retrying in the
 * background while local delivery goes on. Fails only for an invalid URL. */
ConfabRoomBus *confab_room_bus_nats_new (const char *url,
                                         ConfabRoomBusDeliverFunc deliver,
                                         gpointer deliver_data,
                                         GError **error);

static inline void
confab_room_bus_subscribe (ConfabRoomBus *bus, const char *room)
{
  bus->vtable->subscribe (bus, room);
}

static inline void
confab_room_bus_unsubscribe (ConfabRoomBus *bus, const char *room)
{
  bus->vtable->unsubscribe (bus, room);
}

static inline void
confab_room_bus_publish (ConfabRoomBus *bus,
                         const char *room,
                         ConfabRoomBusKind kind,
                         guint64 session_id,
                         ConfabRelayBuf *buf)
{
  bus->vtable->publish (bus, room, kind, session_id, buf);
}

static inline void
confab_room_bus_publish_health (ConfabRoomBus *bus,
                                const char *subject,
                                const guint8 *data,
                                gsize len)
{
  bus->vtable->publish_health (bus, subject, data, len);
}

void confab_room_bus_free (ConfabRoomBus *bus);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabRoomBus, confab_room_bus_free)

G_END_DECLS
