use crate::assets::{StaticFiles, TemplateSource, load_static};
use crate::render::Templates;
use crate::settings::Settings;
use ehm_storage::Store;
use std::path::PathBuf;
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
    pub assets: Arc<StaticFiles>,
    /// Demo mode only: the folder of `.eml` files the file transport writes, shown at
    /// `/demo/mailbox`.
    pub demo_mailbox: Option<Arc<PathBuf>>,
}

impl AppState {
    /// Templates and static files come from the binary unless `settings` names folders
    /// (`EHM_TEMPLATES_DIR`, `EHM_STATIC_DIR`); every template is parsed here.
    pub fn new(store: Store, settings: Settings) -> anyhow::Result<Self> {
        let app = ehm_app::App::new(store.clone(), settings.app());
        let assets = load_static(settings.static_dir.as_deref())?;
        let source = match &settings.templates_dir {
            Some(dir) => TemplateSource::Dir(dir.clone()),
            None => TemplateSource::Embedded,
        };
        let templates = Templates::load(&source, assets.clone())?;
        Ok(Self {
            store,
            settings: Arc::new(settings),
            templates: Arc::new(templates),
            app,
            csrf_key: Arc::default(),
            assets,
            demo_mailbox: None,
        })
    }

    /// Show the `.eml` files in `dir` at `/demo/mailbox` (demo mode only).
    pub fn with_demo_mailbox(mut self, dir: PathBuf) -> Self {
        self.demo_mailbox = Some(Arc::new(dir));
        self
    }
}
