//! Incremental updates of a live index, the portal's fit, plain-words explanations and
//! streaming CSV reading. All people are fictional.

use ehm_matching::synth::Generator;
use ehm_matching::{FitOptions, Gender, Index, Person};
use std::sync::{Arc, RwLock};

fn population(n: usize) -> Vec<Person> {
    Generator::new(21).population(n).0
}

fn ids(index: &Index, q: &Person) -> Vec<String> {
    index
        .search(q, 5, 0.5)
        .into_iter()
        .map(|c| c.person_id)
        .collect()
}

fn maisie() -> Person {
    Person::new("NEW-1")
        .first("Maisie")
        .last("Quarrington")
        .born("2014-09-12")
        .sex(Gender::Female)
        .postcode("LS6 2AB")
        .address("14 Mill Lane")
}

#[test]
fn an_upserted_person_is_found_at_once_and_a_replaced_version_never_again() {
    let mut index = Index::build(population(5000));
    let n = index.len();
    let q = Person::new("Q")
        .first("Maisie")
        .last("Quarrington")
        .born("2014-09-12");
    assert!(ids(&index, &q).is_empty());
    index.upsert(&maisie());
    assert_eq!(index.len(), n + 1);
    assert_eq!(ids(&index, &q), vec!["NEW-1"]);
    // The record changes (a new surname and date of birth): the old version is gone.
    let changed = Person::new("NEW-1")
        .first("Maisie")
        .last("Featherstone")
        .born("2014-09-21")
        .sex(Gender::Female);
    index.upsert(&changed);
    assert_eq!(index.len(), n + 1);
    assert!(ids(&index, &q).is_empty(), "{:?}", ids(&index, &q));
    let q2 = Person::new("Q2")
        .first("Maisie")
        .last("Featherstone")
        .born("2014-09-21");
    assert_eq!(ids(&index, &q2), vec!["NEW-1"]);
    assert_eq!(index.delta_len(), 2);
    // Compaction keeps exactly the live records.
    index.compact();
    assert_eq!(index.delta_len(), 0);
    assert_eq!(index.len(), n + 1);
    assert_eq!(ids(&index, &q2), vec!["NEW-1"]);
    assert!(ids(&index, &q).is_empty());
}

#[test]
fn records_of_the_initial_build_can_be_replaced_and_removed() {
    let people = population(3000);
    let target = people[1234].clone();
    let mut index = Index::build(people);
    let found = index.search(&target, 5, 0.5);
    assert_eq!(found[0].person_id, target.id);
    assert!(index.remove(&target.id));
    assert!(!index.remove(&target.id));
    assert!(
        !index
            .search(&target, 5, 0.0)
            .iter()
            .any(|c| c.person_id == target.id)
    );
    // Insert it again under the same id, then replace it.
    index.upsert(&target);
    assert_eq!(index.search(&target, 5, 0.5)[0].person_id, target.id);
    let mut moved = target.clone();
    moved.first_name = Some("Zebedee".into());
    index.upsert(&moved);
    let hits = index.search(&moved, 5, 0.5);
    assert_eq!(hits[0].person_id, target.id);
    assert_eq!(
        hits.iter().filter(|c| c.person_id == target.id).count(),
        1,
        "{hits:?}"
    );
}

#[test]
fn many_updates_trigger_a_compaction_and_keep_every_record_findable() {
    let mut index = Index::build(population(2000));
    let extra = Generator::new(99).population(25_000).0;
    for (k, p) in extra.iter().enumerate() {
        let mut p = p.clone();
        p.id = format!("X{k}");
        index.upsert(&p);
    }
    assert_eq!(index.len(), 27_000);
    assert!(
        index.delta_len() < index.delta_limit(),
        "{}",
        index.delta_len()
    );
    let mut p = extra[24_999].clone();
    p.id = "X24999".into();
    assert_eq!(index.search(&p, 5, 0.5)[0].person_id, "X24999");
    let mut p = extra[3].clone();
    p.id = "X3".into();
    assert_eq!(index.search(&p, 5, 0.5)[0].person_id, "X3");
}

#[test]
fn the_index_can_be_shared_behind_a_read_write_lock() {
    fn shareable<T: Send + Sync>(_: &T) {}
    let index = Arc::new(RwLock::new(Index::build(population(500))));
    shareable(&index);
    let reader = {
        let index = Arc::clone(&index);
        std::thread::spawn(move || {
            let q = Person::new("Q")
                .first("Maisie")
                .last("Quarrington")
                .born("2014-09-12");
            index.read().unwrap().search(&q, 5, 0.5).len()
        })
    };
    index.write().unwrap().upsert(&maisie());
    let _ = reader.join().unwrap();
    let q = Person::new("Q")
        .first("Maisie")
        .last("Quarrington")
        .born("2014-09-12");
    assert_eq!(ids(&index.read().unwrap(), &q), vec!["NEW-1"]);
}

#[test]
fn the_portal_fit_on_the_index_and_past_referrals_changes_the_model_it_is_given() {
    let mut g = Generator::new(5);
    let (persons, queries, _) = g.scenario(20_000, 1000);
    let mut index = Index::build(persons);
    let past: Vec<Person> = queries.into_iter().map(|q| q.person).collect();
    let before = index.model().clone();
    let model = index.fit(&past, &FitOptions::default());
    assert_ne!(model, before);
    assert!(model.fit.as_ref().is_some_and(|f| f.queries == 1000));
    index.set_model(model.clone());
    assert_eq!(index.model(), &model);
    // The fitted prior is the learnt share of referred children on record.
    let expected = (model.match_share / (1.0 - model.match_share)).log2() - 20_000f64.log2();
    assert!((index.prior() - expected).abs() < 1e-9);
}

#[test]
fn plain_words_explanations_follow_the_levels_and_weights() {
    let index = Index::build({
        let mut p = population(3000);
        p.push(
            Person::new("JOHN")
                .first("John")
                .last("Smith")
                .born("2015-03-04")
                .sex(Gender::Male)
                .postcode("LS6 2AB"),
        );
        p
    });
    let q = Person::new("Q")
        .first("Jack")
        .last("Smyth")
        .born("2015-03-04")
        .sex(Gender::Male)
        .postcode("LS6 9ZZ");
    let c = index
        .search(&q, 5, 0.0)
        .into_iter()
        .find(|c| c.person_id == "JOHN")
        .unwrap();
    let plain = c.explain_plain();
    let find = |label: &str| plain.iter().find(|(l, _, _)| l == label).unwrap().clone();
    let (_, first, w) = find("First name");
    assert!(first.contains("Jack is a short form of John"), "{first}");
    assert_eq!(first.contains("counts for"), w > 0.0, "{first}");
    let (_, sur, _) = find("Surname");
    assert!(sur.contains("same sound (Smyth / Smith)"), "{sur}");
    let (_, pc, _) = find("Postcode");
    assert!(pc.contains("same district"), "{pc}");
    // Every sentence says "for" exactly when its weight is positive.
    for (label, text, w) in &plain {
        if label != "Starting odds" && w.abs() > 0.05 {
            assert_eq!(text.contains("counts for"), *w > 0.0, "{text}");
            assert_eq!(text.contains("counts against"), *w < 0.0, "{text}");
        }
    }
    let json = c.explanation_json();
    assert!(json.starts_with("[{\"field\":\"prior\""), "{json}");
    assert!(
        json.contains("\"text\":\"First name: Jack is a short form of John"),
        "{json}"
    );
}

#[test]
fn persons_are_read_row_by_row_with_bad_rows_reported_by_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.csv");
    std::fs::write(
        &path,
        "id,first_name,last_name,dob,gender\nP1,Ann,Lee,2015-01-01,F\n,Bob,Ray,2014-01-01,M\nP3,Cy,Moss,1945-04-93,3\n",
    )
    .unwrap();
    let mut seen = Vec::new();
    ehm_matching::cli::read_persons_with(&path, |row, person, warnings| {
        seen.push((
            row,
            person.map(|p| p.id).map_err(|e| e.row),
            warnings.to_vec(),
        ));
    })
    .unwrap();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0], (2, Ok("P1".to_string()), vec![]));
    assert_eq!(seen[1].0, 3);
    assert_eq!(seen[1].1, Err(3));
    assert_eq!(seen[2].0, 4);
    assert_eq!(seen[2].1, Ok("P3".to_string()));
    assert_eq!(seen[2].2.len(), 2, "{:?}", seen[2].2);
    assert!(seen[2].2[0].contains("1945-04-93") && seen[2].2[0].contains("compared as text"));
    assert!(
        ehm_matching::cli::read_persons_with(&dir.path().join("none.csv"), |_, _, _| {}).is_err()
    );
}

#[test]
fn an_upserted_person_is_in_the_wide_blocks_too_and_a_removed_one_is_not() {
    // A referral with an error in every key the ordinary blocks use (forename misspelt
    // beyond its sound and first letters, no DOB, another address) is found through the
    // wide surname block, also while the person is only in the delta overlay.
    let mut index = Index::build(population(5000));
    index.upsert(&maisie());
    let q = Person::new("Q")
        .first("Mvisie")
        .last("Quarrington")
        .sex(Gender::Female);
    assert!(index.candidate_ids(&q).contains(&"NEW-1"));
    assert!(index.remove("NEW-1"));
    assert!(!index.candidate_ids(&q).contains(&"NEW-1"));
    index.upsert(&maisie());
    index.compact();
    assert_eq!(index.delta_len(), 0);
    assert!(index.candidate_ids(&q).contains(&"NEW-1"));
}
