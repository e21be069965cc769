/* confab-frame-slot.h: hands decoded pictures from the receiving thread to a
 * renderer on another thread, latest frame wins: a renderer that falls behind
 * skips pictures and never builds latency. Thread-safe. */
#pragma once

#include "confab-video-frame.h"

G_BEGIN_DECLS

typedef struct _ConfabFrameSlot ConfabFrameSlot;

ConfabFrameSlot *confab_frame_slot_new (void);
void confab_frame_slot_free (ConfabFrameSlot *slot);

/* Holds a new reference to @frame, releasing a picture nobody took (counted
 * as dropped). */
void confab_frame_slot_put (ConfabFrameSlot *slot, ConfabVideoFrame *frame);
/* The newest picture, or NULL when none arrived since the last take.
 * (transfer full) */
ConfabVideoFrame *confab_frame_slot_take (ConfabFrameSlot *slot);
/* Pictures replaced before anyone took them. */
guint64 confab_frame_slot_get_dropped (ConfabFrameSlot *slot);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabFrameSlot, confab_frame_slot_free)

G_END_DECLS
