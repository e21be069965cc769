/* confab-device-row.h: a camera, microphone or speaker picker: a combo row
 * listing "Default" and every such device PipeWire has (by its human name),
 * following hot-plug, and keeping the choice in GSettings
 * (preferred-camera / -microphone / -speaker, the node name; "" = the
 * default). Used by the pre-join page and the preferences window. */
#pragma once

#include "confab-pipewire-devices.h"

#include <adwaita.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_DEVICE_KIND (confab_device_kind_get_type ())
GType confab_device_kind_get_type (void) G_GNUC_CONST;

#define CONFAB_TYPE_DEVICE_ROW (confab_device_row_get_type ())
G_DECLARE_FINAL_TYPE (ConfabDeviceRow, confab_device_row, CONFAB, DEVICE_ROW, AdwComboRow)

/* Property "kind" (ConfabDeviceKind, construct-only; "camera",
 * "microphone" or "speaker" in a .ui file). Signal "device-chosen": another
 * device was chosen, here or in another row (already saved). */
GtkWidget *confab_device_row_new (ConfabDeviceKind kind);

/* The devices to list, followed as they come and go; NULL lists only
 * "Default" and makes the row insensitive (no PipeWire). */
void confab_device_row_set_monitor (ConfabDeviceRow *self, ConfabDeviceMonitor *monitor);

/* The chosen device's node name, NULL for "Default". */
const char *confab_device_row_get_device (ConfabDeviceRow *self);

G_END_DECLS
