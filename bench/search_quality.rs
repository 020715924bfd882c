//! Search quality and speed on a small fixed corpus: recall@5 of the keyword ranking, the
//! vector ranking and their fusion (what `GET /api/v1/search` returns), for questions whose
//! right passage is known; and the time of each search.
//!
//! Run: `cargo bench --features ssr --bench search_quality` (SQLite in a temporary folder, the
//! fake Ollama on a free port).
//!
//! The vectors come from the fake Ollama, whose "embeddings" are hashed words (see
//! src/testing/fake_ollama.rs): deterministic and testable, but a bag of words, not a language
//! model. With them the vector ranking measures word overlap without stemming; with a real
//! embedding model (nomic-embed-text) paraphrases would score far better. The figures compare
//! the rankings on equal terms; they are not a claim about a real model.

use ollamastack::config::Settings;
use ollamastack::db::Scope;
use ollamastack::documents::{search, Received};
use ollamastack::model::FileStatus;
use ollamastack::state::AppState;
use ollamastack::testing::fake_ollama::{FakeConfig, FakeOllama};
use std::io::Write;
use std::time::{Duration, Instant};

/// (file name, text): paragraphs on distinct subjects, each long enough to be chunks of its own.
const CORPUS: &[(&str, &str)] = &[
    ("returns.md", "# Returns\n\nCustomers may return unopened parcels within fourteen days of delivery for a full refund. Opened items can be returned within seven days if they are faulty.\n\n## Refund timing\n\nRefunds are paid to the original card within five working days after the warehouse receives the parcel. Gift cards are refunded as store credit.\n"),
    ("warranty.md", "# Warranty\n\nKettles, toasters and blenders carry a two-year warranty from the date of purchase. The warranty does not cover limescale damage or dropped appliances.\n\n## Claims\n\nTo claim, send a photo of the fault and the order number to the support team; a courier collects the appliance at no cost.\n"),
    ("shipping.md", "# Shipping\n\nStandard delivery takes three to five working days inside the country. Express delivery arrives the next working day when ordered before two in the afternoon.\n\n## Abroad\n\nInternational parcels travel with a tracked service and take seven to twelve days; customs duties are paid by the recipient.\n"),
    ("holidays.md", "# Holidays\n\nEvery employee gets twenty-five days of paid leave a year, plus public holidays. Up to five unused days carry over until the end of March.\n\n## Requests\n\nLeave requests go to the line manager at least two weeks ahead through the staff portal.\n"),
    ("expenses.md", "# Expenses\n\nTravel costs are reimbursed within thirty days when the receipt is attached to the claim. Meals are covered up to forty euros a day on business trips.\n\n## Mileage\n\nDriving a private car for work is paid at thirty cents per kilometre, recorded in the mileage log.\n"),
    ("security.md", "# Security\n\nPasswords must be at least fourteen characters long and are changed only when a breach is suspected. Two-factor authentication is required for email and the VPN.\n\n## Devices\n\nLost laptops are reported to the help desk within one hour so that they can be wiped remotely.\n"),
    ("onboarding.md", "# Onboarding\n\nNew starters receive their laptop and badge on the first morning and meet their buddy at lunch. The first week is spent shadowing the team.\n\n## Training\n\nMandatory courses on data protection and fire safety are completed within the first month.\n"),
    ("kitchen.md", "# Office kitchen\n\nThe dishwasher is started by whoever fills it last; clean mugs go back to the cupboard above the sink. Milk in the fridge is replaced every Monday.\n\n## Coffee\n\nThe espresso machine is descaled on the first Friday of each month by the facilities team.\n"),
    ("garden.md", "# Garden care\n\nTomatoes need watering every evening in summer and a stake once they reach knee height. Basil grows best beside them in full sun.\n\n## Pests\n\nSlugs are kept away from lettuce with copper tape around the beds and beer traps at night.\n"),
    ("bikes.md", "# Bicycle maintenance\n\nChains are cleaned and oiled every few hundred kilometres, and tyres pumped to the pressure printed on their side. Brake pads are replaced when the groove is gone.\n\n## Gears\n\nA gear that skips usually means a stretched chain or a cable that needs a quarter turn of tension.\n"),
];

/// (question, file, a phrase of the right passage).
const QUESTIONS: &[(&str, &str, &str)] = &[
    (
        "how long do I have to send back an unopened parcel",
        "returns.md",
        "fourteen days",
    ),
    (
        "when is my refund paid to my card",
        "returns.md",
        "five working days",
    ),
    (
        "is limescale covered by the kettle warranty",
        "warranty.md",
        "limescale",
    ),
    (
        "how do I make a warranty claim",
        "warranty.md",
        "photo of the fault",
    ),
    (
        "how fast is express delivery",
        "shipping.md",
        "next working day",
    ),
    (
        "who pays customs duties on international parcels",
        "shipping.md",
        "customs duties",
    ),
    (
        "how many days of paid leave do employees get",
        "holidays.md",
        "twenty-five days",
    ),
    (
        "how early must leave requests be made",
        "holidays.md",
        "two weeks ahead",
    ),
    (
        "how long until travel costs are reimbursed",
        "expenses.md",
        "thirty days",
    ),
    (
        "what is the mileage rate for a private car",
        "expenses.md",
        "thirty cents",
    ),
    (
        "how long must passwords be",
        "security.md",
        "fourteen characters",
    ),
    (
        "what to do when a laptop is lost",
        "security.md",
        "wiped remotely",
    ),
    (
        "what happens on the first morning for new starters",
        "onboarding.md",
        "first morning",
    ),
    (
        "when is the espresso machine descaled",
        "kitchen.md",
        "descaled",
    ),
    (
        "how do I keep slugs away from lettuce",
        "garden.md",
        "copper tape",
    ),
    (
        "what does a skipping gear mean",
        "bikes.md",
        "stretched chain",
    ),
];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let fake = FakeOllama::start(FakeConfig {
        token_delay: Duration::ZERO,
        ..FakeConfig::default()
    })
    .await
    .expect("fake ollama");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.auth.mode = ollamastack::model::AuthMode::SingleUser;
    // No rate limits: a benchmark sends far more than a person.
    settings.limits.per_minute = 0;
    settings.limits.per_hour = 0;
    settings.database.data_dir = dir.path().to_path_buf();
    settings.ollama.url = fake.url();
    // Small chunks (a sentence or two), so that the right one competes with its neighbours.
    settings.documents.chunk_chars = 120;
    settings.documents.chunk_overlap = 20;
    // Text is extracted as the server does it: in a child process of its binary.
    settings.documents.extractor_program = Some(env!("CARGO_BIN_EXE_ollamastack").into());
    let options = leptos::config::LeptosOptions::builder()
        .output_name("ollamastack")
        .build();
    let state = AppState::build(settings, options).await.expect("app state");
    let owner = state.local_user.0;

    let started = Instant::now();
    let mut received = Vec::new();
    for (name, text) in CORPUS {
        let mut temp = tempfile::NamedTempFile::new().expect("temp file");
        temp.write_all(text.as_bytes()).expect("write");
        received.push(Received {
            name: name.to_string(),
            temp,
        });
    }
    let (stored, refused) = state.documents.keep(owner, received).await.expect("upload");
    assert!(refused.is_empty(), "{refused:?}");
    loop {
        let files = state.store.list_files(owner).await.expect("files");
        if files.iter().all(|f| f.status.is_final()) {
            assert!(
                files.iter().all(|f| f.status == FileStatus::Ready),
                "{files:?}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let indexing = started.elapsed();
    let chunks: i32 = state
        .store
        .list_files(owner)
        .await
        .unwrap()
        .iter()
        .map(|f| f.chunk_count)
        .sum();

    let settings = state.settings.documents.clone();
    let mut found = [0usize; 3];
    let mut times: [Vec<f64>; 3] = Default::default();
    for (question, file, phrase) in QUESTIONS {
        let words = search::query_words(question);
        let t = Instant::now();
        let keyword = state
            .store
            .keyword_search(owner, &words, Scope::All, 5)
            .await
            .unwrap();
        times[0].push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let vector = search::vector_search(
            &state.store,
            &state.ollama,
            &settings,
            owner,
            question,
            Scope::All,
        )
        .await
        .unwrap();
        times[1].push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let hybrid = search::hybrid(
            &state.store,
            &state.ollama,
            &settings,
            owner,
            question,
            Scope::All,
            5,
        )
        .await
        .unwrap();
        times[2].push(t.elapsed().as_secs_f64() * 1000.0);
        let hybrid: Vec<uuid::Uuid> = hybrid.hits.iter().map(|h| h.chunk_id).collect();
        for (mode, ranking) in [&keyword, &vector, &hybrid].into_iter().enumerate() {
            let top: Vec<uuid::Uuid> = ranking.iter().take(5).copied().collect();
            let hit = state
                .store
                .chunks_by_ids(owner, &top)
                .await
                .unwrap()
                .iter()
                .any(|c| c.file_name == *file && c.text.contains(phrase));
            if hit {
                found[mode] += 1;
            }
        }
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!(
        "corpus: {} files, {} chunks, indexed (extracted, chunked, embedded) in {:.0} ms",
        stored.len(),
        chunks,
        indexing.as_secs_f64() * 1000.0
    );
    println!("questions: {}", QUESTIONS.len());
    for (mode, name) in ["keyword", "vector", "hybrid"].iter().enumerate() {
        println!(
            "{name:>8}: recall@5 {:.2} ({}/{}), median search {:.2} ms",
            found[mode] as f64 / QUESTIONS.len() as f64,
            found[mode],
            QUESTIONS.len(),
            median(&mut times[mode])
        );
    }
    state.generations.shutdown(Duration::from_secs(1)).await;
}
