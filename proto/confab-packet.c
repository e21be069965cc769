/* confab-packet.c: packet helpers over the protoc-c generated schema. */
#define G_LOG_DOMAIN "confab-proto"

#include "confab-packet.h"

#include <string.h>

struct _ConfabArena
{
  ProtobufCAllocator allocator;
  guint8 *block;
  gsize size;
  gsize used;
  /* Blocks that overflowed the current one; freed on reset. */
  GPtrArray *overflow;
  /* Largest total seen, so the next reset can grow the main block to fit. */
  gsize high_water;
};

static void *
confab_arena_alloc (void *allocator_data, size_t size)
{
  ConfabArena *arena = allocator_data;
  gsize aligned = (size + 15) & ~(gsize) 15;

  arena->high_water = MAX (arena->high_water, arena->used + aligned);
  if (arena->used + aligned <= arena->size)
    {
      void *p = arena->block + arena->used;
      arena->used += aligned;
      return p;
    }

  /* Out of room: fall back to the heap until the next reset grows the block. */
  if (arena->overflow == NULL)
    arena->overflow = g_ptr_array_new_with_free_func (g_free);
  arena->used += aligned;
  void *p = g_try_malloc (MAX (size, 1));
  if (p != NULL)
    g_ptr_array_add (arena->overflow, p);
  return p;
}

static void
confab_arena_noop_free (void *allocator_data, void *pointer)
{
  /* Everything is released at once by confab_arena_reset(). */
  (void) allocator_data;
  (void) pointer;
}

ConfabArena *
confab_arena_new (gsize initial_size)
{
  ConfabArena *arena = g_new0 (ConfabArena, 1);

  arena->size = MAX (initial_size, 256);
  arena->block = g_malloc (arena->size);
  arena->allocator.alloc = confab_arena_alloc;
  arena->allocator.free = confab_arena_noop_free;
  arena->allocator.allocator_data = arena;
  return arena;
}

void
confab_arena_reset (ConfabArena *arena)
{
  if (arena->overflow != NULL && arena->overflow->len > 0)
    {
      g_ptr_array_set_size (arena->overflow, 0);
      /* Grow once to the high-water mark (bounded by the packet cap plus
       * bookkeeping) so the steady state never overflows again. */
      gsize want = MIN (arena->high_water, (gsize) CONFAB_MAX_PACKET_SIZE * 2 + 65536);
      if (want > arena->size)
        {
          g_free (arena->block);
          arena->block = g_malloc (want);
          arena->size = want;
        }
    }
  arena->used = 0;
  arena->high_water = 0;
}

void
confab_arena_free (ConfabArena *arena)
{
  if (arena == NULL)
    return;
  g_clear_pointer (&arena->overflow, g_ptr_array_unref);
  g_free (arena->block);
  g_free (arena);
}

ProtobufCAllocator *
confab_arena_allocator (ConfabArena *arena)
{
  return &arena->allocator;
}

gboolean
confab_name_is_valid (const char *name)
{
  gsize len = 0;

  if (name == NULL || name[0] == '\0')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++, len++)
    {
      char c = *p;
      if (len >= CONFAB_MAX_NAME_LENGTH)
        return FALSE;
      if (!(g_ascii_isalnum (c) || c == '_' || c == '-'))
        return FALSE;
    }
  return TRUE;
}

char *
confab_name_normalize (const char *name)
{
  char *copy = g_strdup (name);

  for (char *p = copy; p != NULL && *p != '\0'; p++)
    if (*p == ' ')
      *p = '_';
  return copy;
}

GBytes *
confab_message_pack (const ProtobufCMessage *message)
{
  gsize len = protobuf_c_message_get_packed_size (message);
  guint8 *buf = g_malloc (MAX (len, 1));

  protobuf_c_message_pack (message, buf);
  return g_bytes_new_take (buf, len);
}

GBytes *
confab_packet_pack (const ConfabPacketWrapper *wrapper)
{
  return confab_message_pack (&wrapper->base);
}

GBytes *
confab_packet_wrap (Confab__PacketWrapper__PacketType type,
                    const char *user_id,
                    guint64 session_id,
                    const guint8 *data,
                    gsize data_len)
{
  ConfabPacketWrapper w = CONFAB__PACKET_WRAPPER__INIT;

  w.packet_type = type;
  if (user_id != NULL)
    {
      w.user_id.data = (guint8 *) user_id;
      w.user_id.len = strlen (user_id);
    }
  w.data.data = (guint8 *) data;
  w.data.len = data_len;
  w.session_id = session_id;
  return confab_packet_pack (&w);
}

GBytes *
confab_packet_new_session_assigned (guint64 session_id)
{
  return confab_packet_wrap (CONFAB_PACKET_SESSION_ASSIGNED, CONFAB_SYSTEM_USER_ID, session_id,
                             NULL, 0);
}

GBytes *
confab_packet_new_meeting (const ConfabMeetingPacket *meeting)
{
  g_autoptr (GBytes) inner = confab_message_pack (&meeting->base);
  gsize len;
  const guint8 *data = g_bytes_get_data (inner, &len);

  return confab_packet_wrap (CONFAB_PACKET_MEETING, CONFAB_SYSTEM_USER_ID, meeting->session_id,
                             data, len);
}

const char *
confab_packet_type_to_string (int packet_type)
{
  const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value (
      &confab__packet_wrapper__packet_type__descriptor, packet_type);
  return v != NULL ? v->name : "UNKNOWN";
}

const char *
confab_media_type_to_string (int media_type)
{
  const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value (
      &confab__media_packet__media_type__descriptor, media_type);
  return v != NULL ? v->name : "UNKNOWN";
}

guint64
confab_now_epoch_ms (void)
{
  return (guint64) (g_get_real_time () / 1000);
}
