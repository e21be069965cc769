/* confab-room-bus-local.c: the in-process room bus. With one relay every session
 * is local, so publishing is delivering. */
#define G_LOG_DOMAIN "confab-relay"

#include "confab-room-bus.h"

G_DEFINE_QUARK (confab - room - bus - error - quark, confab_room_bus_error)

void
confab_room_bus_free (ConfabRoomBus *bus)
{
  if (bus != NULL)
    bus->vtable->free (bus);
}

static void
local_subscribe (ConfabRoomBus *bus, const char *room)
{
}

static void
local_unsubscribe (ConfabRoomBus *bus, const char *room)
{
}

static void
local_publish (ConfabRoomBus *bus,
               const char *room,
               ConfabRoomBusKind kind,
               guint64 session_id,
               ConfabRelayBuf *buf)
{
  /* Presence queries only matter between relays. */
  if (kind == CONFAB_ROOM_BUS_PRESENCE)
    return;
  bus->deliver (room, kind, session_id, buf, FALSE, bus->deliver_data);
}

static void
local_publish_health (ConfabRoomBus *bus, const char *subject, const guint8 *data, gsize len)
{
  /* Without NATS there is no diagnostics collector: HEALTH is just consumed. */
}

static void
local_free (ConfabRoomBus *bus)
{
  g_free (bus);
}

static const ConfabRoomBusVTable local_vtable = {
  .subscribe = local_subscribe,
  .unsubscribe = local_unsubscribe,
  .publish = local_publish,
  .publish_health = local_publish_health,
  .free = local_free,
};

ConfabRoomBus *
confab_room_bus_local_new (ConfabRoomBusDeliverFunc deliver, gpointer deliver_data)
{
  ConfabRoomBus *bus = g_new0 (ConfabRoomBus, 1);

  bus->vtable = &local_vtable;
  bus->deliver = deliver;
  bus->deliver_data = deliver_data;
  return bus;
}
