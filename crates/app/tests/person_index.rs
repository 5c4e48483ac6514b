//! The matching index over the person index against real databases (SQLite always,
//! PostgreSQL when EHM_TEST_POSTGRES_URL is set): the load, the poll for changes made
//! elsewhere, and the fit on past referral children.

use ehm_app::person_index::PersonIndex;
use ehm_domain::account::{Email, Role};
use ehm_domain::referral::{ChildDraft, ReferenceNumber, ReferralDraft};
use ehm_matching::{Gender, Person};
use ehm_storage::{NewUser, Store, Submission};
use ehm_testkit::{TestDb, backends};
use time::OffsetDateTime;

fn child_of(p: &Person) -> ChildDraft {
    let d = p.dob;
    ChildDraft {
        first_name: p.first_name.clone().unwrap_or_default(),
        last_name: p.last_name.clone().unwrap_or_default(),
        other_names: p.other_names.join(", "),
        dob_day: d.map(|d| d.day().to_string()).unwrap_or_default(),
        dob_month: d.map(|d| d.month().to_string()).unwrap_or_default(),
        dob_year: d.map(|d| d.year().to_string()).unwrap_or_default(),
        dob_estimated: p.dob_estimated,
        gender: match p.gender {
            Some(Gender::Male) => "male".into(),
            Some(Gender::Female) => "female".into(),
            None => String::new(),
        },
        address: p.address.clone().unwrap_or_default(),
        postcode: p.postcode.clone().unwrap_or_default(),
        ..ChildDraft::default()
    }
}

async fn referrer(store: &Store) -> i64 {
    let email = Email::parse("robin.referrer@example.org").unwrap();
    let mut tx = store.begin().await.unwrap();
    let id = store
        .create_user(
            &mut tx,
            NewUser {
                email: &email,
                display_name: "Robin Referrer",
                role: Role::Referrer,
                password_hash: "x",
                verified: true,
            },
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn submit(store: &Store, owner: i64, n: u64, child: &Person) {
    let draft = ReferralDraft {
        children: vec![child_of(child)],
        ..ReferralDraft::default()
    };
    let now = OffsetDateTime::now_utc();
    let row = store
        .create_draft(&format!("pid-{n}"), owner, &draft, now)
        .await
        .unwrap();
    let reference = ReferenceNumber::generate((n * 7919 + 13).to_le_bytes());
    let mut tx = store.begin().await.unwrap();
    assert!(
        store
            .submit_referral(
                &mut tx,
                &Submission {
                    id: row.id,
                    expected_version: 1,
                    draft: &draft,
                    reference: &reference,
                    referral_type: ehm_domain::referral::ReferralType::EarlyHelpService,
                },
                now,
            )
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_index_loads_polls_changes_made_elsewhere_and_fits_on_past_referrals() {
    for backend in backends() {
        let db = TestDb::create(backend).await;
        let store = Store::connect(&db.url).await.unwrap();
        let mut generator = ehm_matching::synth::Generator::new(7);
        let (people, queries, _) = generator.scenario(1_500, 150);
        ehm_app::person_index::store_people(&store, &people)
            .await
            .unwrap();

        // Too few past referrals: the built-in model stays.
        let index = PersonIndex::empty();
        assert_eq!(index.load(&store).await.unwrap(), 1_500, "{backend}");
        assert!(index.is_ready());
        assert_eq!(index.fit(&store).await.unwrap(), None);

        // A person added by someone else (another instance, the importer) is found after
        // one poll, without a reload.
        let newcomer = Person::new("CM-NEW")
            .first("Zuzanna")
            .last("Quillfeather")
            .born("2017-08-19")
            .postcode("LS6 2AB");
        store
            .upsert_persons_batch(
                &[ehm_app::person_index::person_data(&newcomer)],
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        let query = Person::new("q")
            .first("Zuzana")
            .last("Quilfeather")
            .born("2017-08-19");
        assert!(
            index
                .search(&query, 5, 0.0)
                .unwrap()
                .iter()
                .all(|c| c.person_id != "CM-NEW")
        );
        assert_eq!(index.poll(&store).await.unwrap(), 1);
        assert_eq!(index.poll(&store).await.unwrap(), 0);
        let found = index.search(&query, 5, 0.0).unwrap();
        assert_eq!(found.first().map(|c| c.person_id.as_str()), Some("CM-NEW"));

        // With past referrals (80% about people on record), the model is fitted on them
        // and applied: the learnt share of children on record moves off the built-in ½.
        let owner = referrer(&store).await;
        for (n, q) in queries.iter().enumerate() {
            submit(&store, owner, n as u64, &q.person).await;
        }
        let info = index.fit(&store).await.unwrap().expect("a fit");
        assert_eq!(info.queries, 150);
        assert!(
            info.match_share > 0.6 && info.match_share < 0.95,
            "{backend}: {info:?}"
        );
        assert_eq!(index.status().fitted, Some(info));
        assert_eq!(index.status().persons, 1_501);
    }
}
