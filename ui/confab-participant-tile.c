/* confab-participant-tile.c: one participant's overlays over the grid's GL
 * video; the tile is transparent so the video shows through, and is named
 * after the participant for screen readers (and the UI tests). */
#define G_LOG_DOMAIN "confab-participant-tile"

#include "confab-participant-tile.h"

#include <glib/gi18n.h>

struct _ConfabParticipantTile
{
  AdwBin parent_instance;

  /* Template widgets */
  GtkWidget *avatar_box;
  AdwAvatar *avatar;
  GtkLabel *status_label;
  GtkWidget *label_box;
  GtkImage *muted_icon;
  GtkLabel *name_label;
  GtkButton *pin_button;
  GtkImage *quality_icon;

  /* Owned */
  char *name;
  guint64 session_id;
  ConfabTileQuality quality;
  gboolean is_self;
  gboolean has_status;
};

/* Below this avatar size (a tile under ~160 px tall: a speaker-view strip,
 * a phone's grid) the reason text would cover the whole tile; it stays in the
 * tooltip. */
#define STATUS_MIN_AVATAR_SIZE 64

G_DEFINE_FINAL_TYPE (ConfabParticipantTile, confab_participant_tile, ADW_TYPE_BIN)

GtkWidget *
confab_participant_tile_new (guint64 session_id, const char *name)
{
  ConfabParticipantTile *self = g_object_new (CONFAB_TYPE_PARTICIPANT_TILE, NULL);

  self->session_id = session_id;
  /* Upstream clients may not say who they are before their first packet. */
  self->name = g_strdup (name != NULL && *name != '\0' ? name : _ ("Participant"));
  adw_avatar_set_text (self->avatar, self->name);
  gtk_label_set_text (self->name_label, self->name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, self->name,
                                  -1);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->pin_button), "t", session_id);
  return GTK_WIDGET (self);
}

guint64
confab_participant_tile_get_session_id (ConfabParticipantTile *self)
{
  g_return_val_if_fail (CONFAB_IS_PARTICIPANT_TILE (self), 0);
  return self->session_id;
}

const char *
confab_participant_tile_get_name (ConfabParticipantTile *self)
{
  g_return_val_if_fail (CONFAB_IS_PARTICIPANT_TILE (self), NULL);
  return self->name;
}

void
confab_participant_tile_set_show_avatar (ConfabParticipantTile *self, gboolean show)
{
  g_return_if_fail (CONFAB_IS_PARTICIPANT_TILE (self));
  gtk_widget_set_visible (self->avatar_box, show);
}

void
confab_participant_tile_set_avatar_text (ConfabParticipantTile *self, const char *text)
{
  g_return_if_fail (CONFAB_IS_PARTICIPANT_TILE (self));
  adw_avatar_set_text (self->avatar, text);
}

void
confab_participant_tile_set_status (ConfabParticipantTile *self, const char *status)
{
  g_return_if_fail (CONFAB_IS_PARTICIPANT_TILE (self));
  self->has_status = status != NULL;
  gtk_label_set_text (self->status_label, status != NULL ? status : "");
  gtk_widget_set_tooltip_text (self->avatar_box, status);
  /* Screen readers hear the reason even where the tile is too small to show it. */
  if (status != NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                    status, -1);
  else
    gtk_accessible_reset_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION);
  gtk_widget_set_visible (GTK_WIDGET (self->status_label),
                          self->has_status &&
                              adw_avatar_get_size (self->avatar) >= STATUS_MIN_AVATAR_SIZE);
}

void
confab_participant_tile_set_avatar_size (ConfabParticipantTile *self, int size)
{
  g_return_if_fail (CONFAB_IS_PARTICIPANT_TILE (self));
  size = CLAMP (size, 24, 160);
  if (adw_avatar_get_size (self->avatar) != size)
    adw_avatar_set_size (self->avatar, size);
  gtk_widget_set_visible (GTK_WIDGET (self->status_label),
                          self->has_status && size >= STATUS_MIN_AVATAR_SIZE);
}

void
confab_participant_tile_set_audio_enabled (ConfabParticipantTile *self, gboolean enabled)
{
  g_return_if_fail (CONFAB_IS_PARTICIPANT_TILE (self));
  gtk_widget_set_visible (GTK_WIDGET (self->muted_icon), !enabled);
}

void
confab_participant_tile_set_speaking (ConfabParticipantTile *self, gboolean speaking)
{
  g_return_if_fail (CONFAB_IS_PARTICIPANT_TILE (self));
  if (speaking)
    gtk_widget_add_css_class (GTK_WIDGET (self), "speaking");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "speaking");
}

void
confab_participant_tile_set_quality (ConfabParticipantTile *self, ConfabTileQuality quality)
{
  static const char *const icons[] = {
    [CONFAB_TILE_QUALITY_GOOD] = "network-cellular-signal-excellent-symbolic",
    [CONFAB_TILE_QUALITY_FAIR] = "network-cellular-signal-ok-symbolic",
    [CONFAB_TILE_QUALITY_POOR] = "network-cellular-signal-weak-symbolic",
    [CONFAB_TILE_QUALITY_LOST] = "network-cellular-signal-none-symbolic",
  };
  const char *text = NULL;

  g_return_if_fail (CONFAB_IS_PARTICIPANT_TILE (self));
  if (quality == self->quality || quality > CONFAB_TILE_QUALITY_LOST)
    return;
  self->quality = quality;
  switch (quality)
    {
      case CONFAB_TILE_QUALITY_GOOD:
        text = _ ("Good connection");
        break;
      case CONFAB_TILE_QUALITY_FAIR:
        text = _ ("Fair connection");
        break;
      case CONFAB_TILE_QUALITY_POOR:
        text = _ ("Poor connection");
        break;
      case CONFAB_TILE_QUALITY_LOST:
        text = _ ("Connection lost");
        break;
      case CONFAB_TILE_QUALITY_UNKNOWN:
      default:
        break;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->quality_icon), text != NULL && !self->is_self);
  if (text == NULL)
    return;
  gtk_image_set_from_icon_name (self->quality_icon, icons[quality]);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->quality_icon), text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->quality_icon),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, text, -1);
  if (quality >= CONFAB_TILE_QUALITY_POOR)
    gtk_widget_add_css_class (GTK_WIDGET (self->quality_icon), "warning");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->quality_icon), "warning");
}

void
confab_participant_tile_set_pinned (ConfabParticipantTile *self, gboolean pinned)
{
  g_return_if_fail (CONFAB_IS_PARTICIPANT_TILE (self));
  if (pinned)
    gtk_widget_add_css_class (GTK_WIDGET (self), "pinned");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "pinned");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->pin_button), pinned ? _ ("Unpin") : _ ("Pin"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->pin_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  pinned ? _ ("Unpin") : _ ("Pin"), -1);
}

void
confab_participant_tile_set_is_self (ConfabParticipantTile *self, gboolean is_self)
{
  g_return_if_fail (CONFAB_IS_PARTICIPANT_TILE (self));
  self->is_self = is_self;
  gtk_widget_set_visible (GTK_WIDGET (self->pin_button), !is_self);
  if (is_self)
    gtk_widget_set_visible (GTK_WIDGET (self->quality_icon), FALSE);
}

static void
confab_participant_tile_finalize (GObject *object)
{
  ConfabParticipantTile *self = CONFAB_PARTICIPANT_TILE (object);

  g_clear_pointer (&self->name, g_free);
  G_OBJECT_CLASS (confab_participant_tile_parent_class)->finalize (object);
}

static void
confab_participant_tile_class_init (ConfabParticipantTileClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = confab_participant_tile_finalize;

  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/confab/Confab/confab-participant-tile.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabParticipantTile, avatar_box);
  gtk_widget_class_bind_template_child (widget_class, ConfabParticipantTile, avatar);
  gtk_widget_class_bind_template_child (widget_class, ConfabParticipantTile, status_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabParticipantTile, label_box);
  gtk_widget_class_bind_template_child (widget_class, ConfabParticipantTile, muted_icon);
  gtk_widget_class_bind_template_child (widget_class, ConfabParticipantTile, name_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabParticipantTile, pin_button);
  gtk_widget_class_bind_template_child (widget_class, ConfabParticipantTile, quality_icon);
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
  gtk_widget_class_set_css_name (widget_class, "participant-tile");
}

static void
confab_participant_tile_init (ConfabParticipantTile *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
