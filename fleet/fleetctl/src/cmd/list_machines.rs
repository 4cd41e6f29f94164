//! `fleetctl list-machines [-l|--full] [--no-legend]`: the machines of the cluster, as fleet's table.

use fleet_model::format_metadata;
use fleet_model::schema::ApiMachine;

use crate::cli::ListMachinesArgs;
use crate::cmd::{columns, or_exit, print_table};
use crate::ctx::{id_legend, Ctx};
use crate::driver::Driver;

pub const FIELDS: &[&str] = &["ip", "machine", "metadata"];

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &ListMachinesArgs) -> i32 {
    let cols = or_exit!(columns(ctx, &args.fields, FIELDS));
    let machines = match ctx.driver.machines().await {
        Ok(m) => m,
        Err(e) => {
            ctx.io.stderr(format!(
                "Error retrieving list of active machines from fleet API ({e})"
            ));
            ctx.io.stderr("Possible issues:");
            ctx.io.stderr("  etcd is unhealthy and/or lost quorum");
            ctx.io
                .stderr("  connection cannot be established to any etcd servers");
            return 1;
        }
    };
    print_table(ctx, &cols, &machines, args.no_legend, async |m, c| {
        field(m, c, args.full)
    })
    .await;
    0
}

fn field(m: &ApiMachine, col: &str, full: bool) -> String {
    match col {
        "machine" => id_legend(&m.id, full),
        "ip" if m.primary_ip.is_empty() => "-".to_string(),
        "ip" => m.primary_ip.clone(),
        "metadata" => format_metadata(&m.metadata),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::fake::{self, Cluster, FakeDriver};
    use crate::testutil::ctx;

    fn fixture() -> FakeDriver {
        let mut a = fake::machine("113f16a7e28a4c2a9ba2a3d4f3e5b6c7", "172.17.8.103");
        a.metadata = [("ping", "pong"), ("foo", "bar")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let b = fake::machine("9e3e3a2b5c9d4f0e8a7b6c5d4e3f2a1b", "");
        FakeDriver::new(Cluster {
            machines: vec![a, b],
            ..Cluster::default()
        })
    }

    fn args(f: impl FnOnce(&mut ListMachinesArgs)) -> ListMachinesArgs {
        let mut a = ListMachinesArgs {
            full: false,
            no_legend: false,
            fields: "machine,ip,metadata".into(),
        };
        f(&mut a);
        a
    }

    #[tokio::test]
    async fn default_table_matches_fleet_byte_for_byte() {
        let (ctx, cap) = ctx(fixture());
        assert_eq!(run(&ctx, &args(|_| {})).await, 0);
        assert_eq!(
            cap.out(),
            "MACHINE\t\tIP\t\tMETADATA\n\
             113f16a7...\t172.17.8.103\tfoo=bar,ping=pong\n\
             9e3e3a2b...\t-\t\t-\n"
        );
    }

    #[tokio::test]
    async fn full_and_no_legend() {
        let (ctx, cap) = ctx(fixture());
        assert_eq!(
            run(
                &ctx,
                &args(|a| {
                    a.full = true;
                    a.no_legend = true;
                    a.fields = "machine".into();
                })
            )
            .await,
            0
        );
        assert_eq!(
            cap.out(),
            "113f16a7e28a4c2a9ba2a3d4f3e5b6c7\n9e3e3a2b5c9d4f0e8a7b6c5d4e3f2a1b\n"
        );
    }

    #[tokio::test]
    async fn a_failed_list_prints_fleets_four_lines() {
        let d = fixture();
        d.with(|c| c.fail_reads = Some("etcd is down".into()));
        let (ctx, cap) = ctx(d);
        assert_eq!(run(&ctx, &args(|_| {})).await, 1);
        assert_eq!(
            cap.err(),
            "Error retrieving list of active machines from fleet API (etcd is down)\n\
             Possible issues:\n  etcd is unhealthy and/or lost quorum\n  connection cannot be established to any etcd servers\n"
        );
    }
}
