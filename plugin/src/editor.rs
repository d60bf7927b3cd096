//! The editor (egui): the phrase text, the parameters, and the waveform of the selected phrase.
//! Editing the text writes the saved field at once; the renderer notices and renders again.

use std::sync::Arc;

use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::Param;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{EguiEditorState, Frame, NiceEguiApp};

use crate::params::MellowParams;
use crate::phrases::phrase_lines;
use crate::renderer::RenderStatus;

pub const WIDTH: u32 = 560;
pub const HEIGHT: u32 = 700;

pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(LogicalSize::new(WIDTH as f64, HEIGHT as f64), 1.0)
}

pub struct EditorApp {
    params: Arc<MellowParams>,
    status: Arc<RenderStatus>,
    context: Option<GuiContext>,
    text: String,
    voice: String,
    selected: usize,
}

impl EditorApp {
    pub fn new(params: Arc<MellowParams>, status: Arc<RenderStatus>) -> Self {
        Self {
            params,
            status,
            context: None,
            text: String::new(),
            voice: String::new(),
            selected: 0,
        }
    }
}

impl NiceEguiApp for EditorApp {
    fn build(
        &mut self,
        _egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.context = Some(nice_gui_ctx);
        self.text = self
            .params
            .phrases
            .read()
            .map(|t| t.clone())
            .unwrap_or_default();
        self.voice = self
            .params
            .voice
            .read()
            .map(|v| v.clone())
            .unwrap_or_default();
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut Frame) {
        let Some(context) = &self.context else {
            return;
        };
        let setter = context.param_setter();
        ui.heading("Mellow");
        ui.label("Phrases, one per line. MIDI note 60 (C4 below; C3 in some DAWs) speaks line 1, 61 line 2, and so on; with pitch follow on, each note speaks the next line at its pitch. In sing mode the text is a lyric: each note sings its next syllable at its pitch (`-` splits a word, `+` holds a syllable over the next note, the restart key goes back to the start); the voice sings from A2 to A4 and an octave beyond.");
        let edit = egui::TextEdit::multiline(&mut self.text)
            .desired_rows(5)
            .desired_width(f32::INFINITY);
        if ui.add(edit).changed() {
            if let Ok(mut saved) = self.params.phrases.write() {
                saved.clone_from(&self.text);
            }
        }
        ui.horizontal(|ui| {
            ui.label("Voice file");
            let edit = egui::TextEdit::singleline(&mut self.voice)
                .hint_text("built-in voice")
                .desired_width(f32::INFINITY);
            if ui.add(edit).lost_focus() {
                if let Ok(mut saved) = self.params.voice.write() {
                    saved.clone_from(&self.voice);
                }
            }
        });
        ui.separator();
        egui::Grid::new("parameters").num_columns(2).show(ui, |ui| {
            let p = &self.params;
            ui.label(p.steps.name());
            ui.add(ParamSlider::for_param(&p.steps, &setter));
            ui.end_row();
            ui.label(p.temperature.name());
            ui.add(ParamSlider::for_param(&p.temperature, &setter));
            ui.end_row();
            ui.label(p.rate.name());
            ui.add(ParamSlider::for_param(&p.rate, &setter));
            ui.end_row();
            ui.label(p.gain.name());
            ui.add(ParamSlider::for_param(&p.gain, &setter));
            ui.end_row();
            ui.label(p.pitch_follow.name());
            ui.add(ParamSlider::for_param(&p.pitch_follow, &setter));
            ui.end_row();
            ui.label(p.root.name());
            ui.add(ParamSlider::for_param(&p.root, &setter));
            ui.end_row();
            ui.label(p.sing.name());
            ui.add(ParamSlider::for_param(&p.sing, &setter));
            ui.end_row();
            for param in [&p.bend_range, &p.portamento, &p.restart_key] {
                ui.label(param.name());
                ui.add(ParamSlider::for_param(param, &setter));
                ui.end_row();
            }
            for param in [&p.vibrato_depth, &p.vibrato_rate] {
                ui.label(param.name());
                ui.add(ParamSlider::for_param(param, &setter));
                ui.end_row();
            }
        });
        ui.separator();
        let lines = phrase_lines(&self.text);
        self.selected = self.selected.min(lines.len().saturating_sub(1));
        ui.horizontal(|ui| {
            ui.label("Phrase");
            egui::ComboBox::from_id_salt("phrase")
                .selected_text(lines.get(self.selected).cloned().unwrap_or_default())
                .show_ui(ui, |ui| {
                    for (i, line) in lines.iter().enumerate() {
                        ui.selectable_value(&mut self.selected, i, format!("{}. {line}", i + 1));
                    }
                });
            // Waiting its turn at the shared engine counts too: notes played now start late.
            if !self
                .status
                .up_to_date
                .load(std::sync::atomic::Ordering::Acquire)
            {
                ui.label("rendering…");
            }
        });
        let preview = self.status.preview(self.selected);
        if preview.is_empty()
            || !self
                .status
                .up_to_date
                .load(std::sync::atomic::Ordering::Acquire)
        {
            // Nothing else would wake the editor when the renderer finishes.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(200));
        }
        waveform(ui, &preview);
        if let Some(error) = self.status.last_error() {
            ui.colored_label(egui::Color32::LIGHT_RED, error);
        }
    }
}

/// The peak envelope of a phrase, one vertical line per point.
fn waveform(ui: &mut egui::Ui, peaks: &[f32]) {
    let size = egui::vec2(ui.available_width(), 90.0);
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, egui::Color32::from_gray(24));
    if peaks.is_empty() {
        return;
    }
    let stroke = egui::Stroke::new(1.0, egui::Color32::from_rgb(120, 200, 255));
    let mid = rect.center().y;
    for (i, peak) in peaks.iter().enumerate() {
        let x = rect.left() + rect.width() * (i as f32 + 0.5) / peaks.len() as f32;
        let h = peak.clamp(0.0, 1.0) * rect.height() * 0.48;
        painter.line_segment([egui::pos2(x, mid - h), egui::pos2(x, mid + h)], stroke);
    }
}
