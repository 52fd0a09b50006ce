package whatif

import (
	"fmt"
	"strings"
)

// GB is the billing gigabyte: CloudWatch Logs and SLS price per GiB-sized
// "GB" of data.
const GB = 1 << 30

// SecondsPerMonth is a 30-day month, the unit of the projections.
const SecondsPerMonth = 30 * 24 * 3600

// Price is a price model: what one destination charges per GB of the
// bytes auditlane ships.
type Price struct {
	// Name is the model's key (for --price-model).
	Name string `json:"name"`
	// Destination says where the bytes go and which charge this is.
	Destination string `json:"destination"`
	// USDPerGB is the price in US dollars per GB (GiB) shipped.
	USDPerGB float64 `json:"usdPerGB"`
	// Basis says where the number comes from and what it leaves out.
	Basis string `json:"basis"`
}

// Built-in price models. Prices are list prices at the time of writing;
// check your region's price list and pass --price-per-gb for your own.
var Prices = []Price{
	{Name: "cloudwatch-standard", Destination: "CloudWatch Logs, Standard log class: ingestion",
		USDPerGB: 0.50, Basis: "USD 0.50 per GB ingested (us-east-1 list price); storage (USD 0.03 per GB-month compressed) extra"},
	{Name: "cloudwatch-ia", Destination: "CloudWatch Logs, Infrequent Access log class: ingestion",
		USDPerGB: 0.25, Basis: "USD 0.25 per GB ingested (us-east-1 list price); storage extra"},
	{Name: "sls", Destination: "Alibaba Cloud SLS, pay-by-feature: write traffic",
		USDPerGB: 0.009, Basis: "USD 0.045 per GB of compressed write traffic at the 5:1 compression Alibaba Cloud's billing examples assume; index traffic and storage extra"},
}

// PriceByName returns the built-in model called name.
func PriceByName(name string) (Price, error) {
	for _, p := range Prices {
		if p.Name == name {
			return p, nil
		}
	}
	names := make([]string, len(Prices))
	for i, p := range Prices {
		names[i] = p.Name
	}
	return Price{}, fmt.Errorf("unknown price model %q (known: %s, or a custom --price-per-gb)", name, strings.Join(names, ", "))
}

// CustomPrice is the model for a price given by the user.
func CustomPrice(usdPerGB float64) Price {
	return Price{Name: "custom", Destination: "custom price", USDPerGB: usdPerGB, Basis: fmt.Sprintf("USD %.4g per GB, as given", usdPerGB)}
}

// Where savings apply, by provider (see SavingsNote).
const (
	noteManaged = "On %s the provider stores and bills its own copy of the audit log (%s) before any agent sees it. " +
		"There this policy lowers the cost of the copy auditlane ships (cross-cloud, SIEM, long retention), not the provider's first charge."
	noteSource = "On %s the apiserver writes the audit file or webhook auditlane reads, so this policy's savings are at the source: " +
		"what it drops is never stored anywhere."
	noteUnknown = "It depends on the cluster: on EKS, AKS and GKE the provider stores and bills its own copy of the audit log " +
		"before any agent sees it, so a policy lowers only the cost of the copy auditlane ships (cross-cloud, SIEM, long retention); " +
		"on self-managed and ACK clusters whose apiserver writes the file or webhook auditlane reads, the savings are at the source."
)

// SavingsNote says plainly where a policy's savings apply for provider
// (eks, aks, gke, ack, self-managed or "" for unknown).
func SavingsNote(provider string) string {
	switch provider {
	case "eks":
		return fmt.Sprintf(noteManaged, "EKS", "CloudWatch Logs control-plane logging")
	case "aks":
		return fmt.Sprintf(noteManaged, "AKS", "Azure Monitor diagnostic settings")
	case "gke":
		return fmt.Sprintf(noteManaged, "GKE", "Cloud Logging")
	case "ack":
		return fmt.Sprintf(noteSource, "ACK clusters")
	case "self-managed":
		return fmt.Sprintf(noteSource, "self-managed clusters")
	}
	return noteUnknown
}
