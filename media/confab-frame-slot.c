/* confab-frame-slot.c: one pointer behind a mutex. The lock is held only to
 * swap the pointer; frames are released outside it. */
#define G_LOG_DOMAIN "confab-frame-slot"

#include "confab-frame-slot.h"

struct _ConfabFrameSlot
{
  GMutex lock;
  ConfabVideoFrame *frame;
  guint64 dropped;
};

ConfabFrameSlot *
confab_frame_slot_new (void)
{
  ConfabFrameSlot *slot = g_new0 (ConfabFrameSlot, 1);

  g_mutex_init (&slot->lock);
  return slot;
}

void
confab_frame_slot_free (ConfabFrameSlot *slot)
{
  if (slot == NULL)
    return;
  confab_video_frame_unref (slot->frame);
  g_mutex_clear (&slot->lock);
  g_free (slot);
}

void
confab_frame_slot_put (ConfabFrameSlot *slot, ConfabVideoFrame *frame)
{
  ConfabVideoFrame *old;

  confab_video_frame_ref (frame);
  g_mutex_lock (&slot->lock);
  old = slot->frame;
  slot->frame = frame;
  if (old != NULL)
    slot->dropped++;
  g_mutex_unlock (&slot->lock);
  confab_video_frame_unref (old);
}

ConfabVideoFrame *
confab_frame_slot_take (ConfabFrameSlot *slot)
{
  ConfabVideoFrame *frame;

  g_mutex_lock (&slot->lock);
  frame = g_steal_pointer (&slot->frame);
  g_mutex_unlock (&slot->lock);
  return frame;
}

guint64
confab_frame_slot_get_dropped (ConfabFrameSlot *slot)
{
  guint64 dropped;

  g_mutex_lock (&slot->lock);
  dropped = slot->dropped;
  g_mutex_unlock (&slot->lock);
  return dropped;
}
