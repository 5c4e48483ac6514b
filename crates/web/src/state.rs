use crate::render::Templates;
use crate::settings::Settings;
use ehm_storage::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub templates: Arc<Templates>,
}

impl AppState {
    pub fn new(store: Store, settings: Settings) -> anyhow::Result<Self> {
        let templates = Templates::load(&settings.templates_dir)?;
        Ok(Self {
            store,
            settings: Arc::new(settings),
            templates: Arc::new(templates),
        })
    }
}
