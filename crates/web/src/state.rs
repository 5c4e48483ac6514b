use crate::render::Templates;
use crate::settings::Settings;
use ehm_storage::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub templates: Arc<Templates>,
    /// The use cases (see `ehm_app`).
    pub app: ehm_app::App,
    /// Signs the CSRF token of signed-out visitors; shared by every instance through the
    /// database, loaded on first use.
    pub(crate) csrf_key: Arc<tokio::sync::OnceCell<Vec<u8>>>,
}

impl AppState {
    pub fn new(store: Store, settings: Settings) -> anyhow::Result<Self> {
        let templates = Templates::load(&settings.templates_dir)?;
        let app = ehm_app::App::new(store.clone(), settings.app());
        Ok(Self {
            store,
            settings: Arc::new(settings),
            templates: Arc::new(templates),
            app,
            csrf_key: Arc::default(),
        })
    }
}
